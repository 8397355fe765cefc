import { baseURL, type PluginConfig } from './config';

/** One answer of the service: its status, parsed JSON body and headers. */
export interface ServiceAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** The service could not be reached or answered something that is not JSON. */
export class ServiceUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceUnavailable';
  }
}

/** What the plugin tells the service about the end user's request. */
export interface EndUser {
  ip: string;
  userAgent: string;
}

/** A Strapi user handed to the service (POST /api/sessions). */
export interface ExternalSession extends EndUser {
  externalUserId: string;
  email?: string;
  username?: string;
}

/**
 * SessionService calls Magic Session Manager: the service routes with the
 * service token, the end-user routes (refresh, logout, sessions, challenge)
 * on the end user's behalf with their token and address.
 */
export class SessionService {
  private readonly base: string;

  constructor(private readonly cfg: PluginConfig, private readonly fetchImpl: typeof fetch = fetch) {
    this.base = baseURL(cfg);
  }

  /** POST /api/sessions: a session for a user Strapi signed in. */
  startSession(s: ExternalSession): Promise<ServiceAnswer> {
    return this.call('POST', '/api/sessions', { authorization: `Bearer ${this.cfg.serviceToken}`, body: s, endUser: s });
  }

  /**
   * forward calls an end-user route: authorization is the end user's
   * (Bearer access token) or absent; X-Forwarded-For carries their address,
   * which the service believes when SM_TRUSTED_PROXIES lists Strapi.
   */
  forward(method: string, path: string, opts: { authorization?: string; body?: unknown; endUser: EndUser }): Promise<ServiceAnswer> {
    return this.call(method, path, opts);
  }

  private async call(method: string, path: string, opts: { authorization?: string; body?: unknown; endUser: EndUser }): Promise<ServiceAnswer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.authorization) headers.authorization = opts.authorization;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.endUser.ip) headers['x-forwarded-for'] = opts.endUser.ip;
    if (opts.endUser.userAgent) headers['user-agent'] = opts.endUser.userAgent;
    let resp: Response;
    try {
      resp = await this.fetchImpl(this.base + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
        redirect: 'manual',
      });
    } catch (err) {
      throw new ServiceUnavailable(`session service unreachable: ${(err as Error).message}`, { cause: err });
    }
    const text = await resp.text();
    let body: unknown = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new ServiceUnavailable(`session service answered ${resp.status} with a body that is not JSON`, { cause: err });
      }
    }
    return { status: resp.status, body, headers: resp.headers };
  }
}
