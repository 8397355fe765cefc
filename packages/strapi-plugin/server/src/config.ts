/** The plugin's configuration (config/plugins.js, key "magic-sessionmanager"). */
export interface PluginConfig {
  /** Base URL of Magic Session Manager as Strapi reaches it, e.g. http://sessionmanager:8080. */
  url: string;
  /** An admin API token of scope `service` (msm_...): external sessions and the revocation feed. */
  serviceToken: string;
  /** The service's SM_ISSUER and SM_AUDIENCE (both "sessionmanager" by default). */
  issuer: string;
  audience: string;
  /** Where the admin panel's link points; by default `${url}/admin/`. */
  dashboardUrl: string;
  /** Prefix of the external user id the service keys Strapi users by ("strapi:" + documentId). */
  externalIdPrefix: string;
  /**
   * Accept users-permissions' own JWTs as well (a migration period). Off by
   * default: Strapi accepts only sessions the service says are alive.
   */
  acceptStrapiTokens: boolean;
  /** Timeout of one call to the service, in milliseconds. */
  timeoutMs: number;
  /**
   * While the revocation feed is disconnected: "accept" tokens that verify
   * offline (the default, as the Go client and the SDK), "introspect" every
   * request at the service, or "reject" them all (fail closed).
   */
  whenFeedDown: 'accept' | 'introspect' | 'reject';
}

type Env = ((key: string, fallback?: string) => string | undefined) & {
  bool?: (key: string, fallback?: boolean) => boolean;
};

/** Defaults, read from the environment where it makes sense (MSM_*). */
export function defaults({ env }: { env: Env }): PluginConfig {
  return {
    url: env('MSM_URL', '') ?? '',
    serviceToken: env('MSM_SERVICE_TOKEN', '') ?? '',
    issuer: env('MSM_ISSUER', 'sessionmanager') ?? 'sessionmanager',
    audience: env('MSM_AUDIENCE', 'sessionmanager') ?? 'sessionmanager',
    dashboardUrl: env('MSM_DASHBOARD_URL', '') ?? '',
    externalIdPrefix: 'strapi:',
    acceptStrapiTokens: false,
    timeoutMs: 5000,
    whenFeedDown: 'accept',
  };
}

/**
 * validate throws one Error naming every bad field, so Strapi refuses to
 * start with a clear message instead of failing at the first sign-in.
 */
export function validate(c: Partial<PluginConfig>): void {
  const bad: string[] = [];
  const url = parseHttpURL(c.url);
  if (!url) bad.push('url must be the absolute http(s) URL of Magic Session Manager (MSM_URL), e.g. http://sessionmanager:8080');
  if (typeof c.serviceToken !== 'string' || !/^msm_[A-Za-z0-9_-]{20,}$/.test(c.serviceToken)) {
    bad.push('serviceToken must be an admin API token of scope service (MSM_SERVICE_TOKEN, msm_...; `sessionmanager admin create-token --scope service`)');
  }
  for (const k of ['issuer', 'audience'] as const) {
    if (typeof c[k] !== 'string' || c[k] === '') bad.push(`${k} must be the service's SM_${k.toUpperCase()} (default "sessionmanager")`);
  }
  if (c.dashboardUrl && !parseHttpURL(c.dashboardUrl)) bad.push('dashboardUrl must be an absolute http(s) URL');
  if (typeof c.externalIdPrefix !== 'string' || c.externalIdPrefix.length > 40) bad.push('externalIdPrefix must be a string of at most 40 characters');
  if (typeof c.acceptStrapiTokens !== 'boolean') bad.push('acceptStrapiTokens must be true or false');
  if (typeof c.timeoutMs !== 'number' || !(c.timeoutMs >= 100 && c.timeoutMs <= 60000)) bad.push('timeoutMs must be a number of milliseconds from 100 to 60000');
  if (!['accept', 'introspect', 'reject'].includes(c.whenFeedDown as string)) bad.push('whenFeedDown must be "accept", "introspect" or "reject"');
  if (bad.length) throw new Error(`magic-sessionmanager: ${bad.join('; ')}`);
}

function parseHttpURL(v: unknown): URL | null {
  if (typeof v !== 'string') return null;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password ? u : null;
  } catch {
    return null;
  }
}

/** The base URL without a trailing slash. */
export function baseURL(c: PluginConfig): string {
  return c.url.replace(/\/+$/, '');
}

/** The dashboard link: dashboardUrl, or the service's /admin/. */
export function dashboardURL(c: PluginConfig): string {
  return c.dashboardUrl || `${baseURL(c)}/admin/`;
}
