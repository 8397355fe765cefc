// The parts of Strapi's Koa context the plugin uses (Strapi's own types
// are not a dependency of the server code).

export interface Cookies {
  get(name: string): string | undefined;
  set(name: string, value: string | null, options?: Record<string, unknown>): void;
}

export interface Ctx {
  request: {
    ip: string;
    header: Record<string, string | string[] | undefined>;
    headers: Record<string, string | string[] | undefined>;
    body?: unknown;
  };
  params: Record<string, string>;
  state: Record<string, any>;
  status: number;
  body: unknown;
  cookies: Cookies;
  set(name: string, value: string): void;
  get(name: string): string;
}

export type Action = (ctx: Ctx, ...rest: any[]) => Promise<unknown> | unknown;

/** Strapi's error shape: {"data":null,"error":{status,name,message,details}}. */
export interface StrapiError {
  data: null;
  error: { status: number; name: string; message: string; details: Record<string, unknown> };
}

const errorNames: Record<number, string> = {
  400: 'ValidationError',
  401: 'UnauthorizedError',
  403: 'ForbiddenError',
  404: 'NotFoundError',
  409: 'ApplicationError',
  429: 'RateLimitError',
  503: 'ServiceUnavailableError',
};

/** Answer ctx with an error in Strapi's shape. */
export function sendError(ctx: Ctx, status: number, message: string, details: Record<string, unknown> = {}, name?: string): void {
  ctx.status = status;
  ctx.body = { data: null, error: { status, name: name ?? errorNames[status] ?? 'ApplicationError', message, details } } satisfies StrapiError;
}

/** isStrapiError reports whether body already has Strapi's error shape. */
export function isStrapiError(body: unknown): body is StrapiError {
  const e = (body as StrapiError | null)?.error;
  return !!e && typeof e === 'object' && typeof e.status === 'number' && typeof e.message === 'string' && typeof e.name === 'string';
}

/** The first value of a request header. */
export function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.request.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The bearer token of the request, or undefined (Strapi's getToken rules). */
export function bearer(ctx: Ctx): string | undefined {
  const auth = header(ctx, 'authorization');
  if (!auth) return undefined;
  const parts = auth.split(/\s+/);
  return parts.length === 2 && parts[0].toLowerCase() === 'bearer' ? parts[1] : undefined;
}

/**
 * The end user's address as Strapi sees it: Koa's ctx.request.ip, which
 * believes X-Forwarded-For only when config/server.js sets proxy.koa (and
 * then takes the left-most address unless proxy.maxIpsCount says how many
 * proxies to count from the right). IPv4-mapped IPv6 becomes plain IPv4.
 */
export function clientIP(ctx: Ctx): string {
  const ip = (ctx.request.ip || '').trim();
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The end user's User-Agent (at most 1024 characters, the service's limit). */
export function userAgent(ctx: Ctx): string {
  return (header(ctx, 'user-agent') ?? '').slice(0, 1024);
}
