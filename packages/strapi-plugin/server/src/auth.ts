import type { PluginConfig } from './config';
import { bearer, clientIP, isStrapiError, sendError, userAgent, type Action, type Ctx } from './koa';
import { ServiceUnavailable, type EndUser, type ServiceAnswer, type SessionService } from './service';
import type { UserMap } from './users';

/** How Strapi delivers the refresh token: users-permissions' `sessions` config. */
export interface RefreshCookie {
  /** sessions.httpOnly: always in an httpOnly cookie instead of the body. */
  httpOnly: boolean;
  name: string;
  secure: boolean;
  sameSite: string;
  path: string;
  domain?: string;
  maxAge?: number;
}

/** What the auth actions need. */
export interface AuthDeps {
  cfg: PluginConfig;
  service: SessionService;
  users: UserMap;
  cookie: RefreshCookie;
  log: { warn(msg: string): void; error(msg: string): void };
  /** Strapi's content-API sanitizer for a users-permissions user (private fields out). */
  sanitizeUser(user: unknown, ctx: Ctx): Promise<unknown>;
  /** A users-permissions user by documentId, or null. */
  findUser(documentId: string): Promise<unknown | null>;
}

interface StrapiUser {
  id: number;
  documentId: string;
  email?: string | null;
  username?: string | null;
}

/** The body users-permissions answers a sign-in with. */
interface SignInBody {
  jwt?: string;
  user?: StrapiUser;
}

function endUser(ctx: Ctx): EndUser {
  return { ip: clientIP(ctx), userAgent: userAgent(ctx) };
}

/** wantsCookie reports whether the refresh token goes in the cookie (Strapi's rule). */
function wantsCookie(ctx: Ctx, c: RefreshCookie): boolean {
  return c.httpOnly || ctx.request.header['x-strapi-refresh-cookie'] === 'httpOnly';
}

function cookieOptions(c: RefreshCookie): Record<string, unknown> {
  return { httpOnly: true, secure: c.secure, sameSite: c.sameSite, path: c.path, domain: c.domain, maxAge: c.maxAge, overwrite: true };
}

/**
 * passAnswer copies a service error to ctx: the service already speaks
 * Strapi's error shape, so a 4xx (blocked 403, challenge_required 401,
 * 409, 429 with Retry-After...) reaches the client as the service wrote
 * it. Anything else (5xx, an unexpected shape) is a 503: the client learns
 * the session service is down, never a stack trace.
 */
function passAnswer(ctx: Ctx, ans: ServiceAnswer, deps: AuthDeps): void {
  if (ans.status >= 400 && ans.status < 500 && isStrapiError(ans.body)) {
    ctx.status = ans.status;
    ctx.body = ans.body;
    for (const h of ['retry-after', 'x-session-terminated-reason']) {
      const v = ans.headers.get(h);
      if (v) ctx.set(h, v);
    }
    return;
  }
  deps.log.error(`magic-sessionmanager: the session service answered ${ans.status}`);
  sendError(ctx, 503, 'Session service unavailable', { reason: 'session_service_unavailable' });
}

/** unavailable answers 503 when the service cannot be reached; other errors go on. */
function unavailable(ctx: Ctx, err: unknown, deps: AuthDeps): void {
  if (!(err instanceof ServiceUnavailable)) throw err;
  deps.log.error(`magic-sessionmanager: ${err.message}`);
  sendError(ctx, 503, 'Session service unavailable', { reason: 'session_service_unavailable' });
}

/**
 * answerTokens writes Strapi's sign-in answer with the service's tokens:
 * {jwt, refreshToken, user}, or {jwt, user} and the refresh token in the
 * httpOnly cookie when Strapi would put it there.
 */
function answerTokens(ctx: Ctx, deps: AuthDeps, tokens: { jwt: string; refreshToken: string }, user: unknown): void {
  ctx.status = 200;
  if (wantsCookie(ctx, deps.cookie)) {
    ctx.cookies.set(deps.cookie.name, tokens.refreshToken, cookieOptions(deps.cookie));
    ctx.body = { jwt: tokens.jwt, user };
    return;
  }
  ctx.body = { jwt: tokens.jwt, refreshToken: tokens.refreshToken, user };
}

/**
 * handOver turns a users-permissions sign-in answer ({jwt, user} with
 * Strapi's token) into a session of the service: POST /api/sessions with
 * the Strapi user and the end user's address and browser, then Strapi's
 * answer with the service's tokens. Strapi's own token is dropped.
 * endOthers (password change or reset) ends the user's other sessions.
 */
async function handOver(ctx: Ctx, deps: AuthDeps, endOthers: boolean): Promise<void> {
  const body = ctx.body as SignInBody | undefined;
  if (ctx.status >= 300 || !body?.jwt || !body.user?.documentId) return; // e.g. register awaiting email confirmation
  const user = body.user;
  const who = endUser(ctx);
  const externalUserId = deps.cfg.externalIdPrefix + user.documentId;
  try {
    let ans = await deps.service.startSession({ externalUserId, email: user.email || undefined, username: user.username || undefined, ...who });
    if (ans.status === 409) {
      // The email or username belongs to another account of the service
      // (one that signed up there directly): the session still starts,
      // keyed by the Strapi user alone.
      ans = await deps.service.startSession({ externalUserId, ...who });
    }
    if (ans.status !== 201 || typeof ans.body?.jwt !== 'string' || typeof ans.body?.user?.id !== 'string') {
      const challenge = ans.body?.error?.details?.challenge;
      if (ans.status === 401 && typeof challenge?.id === 'string') deps.users.rememberChallenge(challenge.id, user.documentId, challenge.expiresAt);
      passAnswer(ctx, ans, deps);
      return;
    }
    await deps.users.remember(ans.body.user.id, user.documentId);
    if (endOthers) {
      const ended = await deps.service.forward('POST', '/api/sessions/me/logout-others', { authorization: `Bearer ${ans.body.jwt}`, endUser: who });
      if (ended.status !== 200) {
        passAnswer(ctx, ended, deps);
        return;
      }
    }
    answerTokens(ctx, deps, { jwt: ans.body.jwt, refreshToken: ans.body.refreshToken }, user);
  } catch (err) {
    unavailable(ctx, err, deps);
  }
}

/**
 * afterSignIn wraps a users-permissions action that may answer {jwt, user}
 * (every argument passes through: GraphQL's emailConfirmation mutation
 * calls the action with returnUser).
 */
function afterSignIn(original: Action, deps: AuthDeps, endOthers: boolean): Action {
  return async (ctx, ...rest) => {
    await original(ctx, ...rest);
    await handOver(ctx, deps, endOthers);
  };
}

/** proxy forwards an end-user route to the service and passes its answer on. */
async function proxy(ctx: Ctx, deps: AuthDeps, method: string, path: string, body: unknown): Promise<ServiceAnswer | null> {
  const token = bearer(ctx);
  try {
    const ans = await deps.service.forward(method, path, { authorization: token ? `Bearer ${token}` : undefined, body, endUser: endUser(ctx) });
    if (ans.status >= 400) {
      passAnswer(ctx, ans, deps);
      return null;
    }
    return ans;
  } catch (err) {
    unavailable(ctx, err, deps);
    return null;
  }
}

function bodyOf(ctx: Ctx): Record<string, unknown> {
  const b = ctx.request.body;
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}

/** POST /api/auth/refresh: the service rotates its refresh token (cookie first, then body, as Strapi). */
async function refresh(ctx: Ctx, deps: AuthDeps): Promise<void> {
  const fromCookie = ctx.cookies.get(deps.cookie.name);
  const refreshToken = fromCookie || bodyOf(ctx).refreshToken;
  const ans = await proxy(ctx, deps, 'POST', '/api/auth/refresh', refreshToken === undefined ? {} : { refreshToken });
  if (!ans) {
    if (ctx.status === 401 && fromCookie) ctx.cookies.set(deps.cookie.name, '', { ...cookieOptions(deps.cookie), maxAge: undefined, expires: new Date(0) });
    return;
  }
  ctx.status = 200;
  if (wantsCookie(ctx, deps.cookie)) {
    ctx.cookies.set(deps.cookie.name, ans.body.refreshToken, cookieOptions(deps.cookie));
    ctx.body = { jwt: ans.body.jwt };
    return;
  }
  ctx.body = { jwt: ans.body.jwt, refreshToken: ans.body.refreshToken };
}

/** POST /api/auth/logout: the current session, {"scope":"all"} or {"deviceId"} (the service decides). */
async function logout(ctx: Ctx, deps: AuthDeps): Promise<void> {
  const b = bodyOf(ctx);
  const body: Record<string, unknown> = {};
  for (const k of ['scope', 'deviceId']) if (b[k] !== undefined) body[k] = b[k];
  const ans = await proxy(ctx, deps, 'POST', '/api/auth/logout', body);
  if (wantsCookie(ctx, deps.cookie)) ctx.cookies.set(deps.cookie.name, '', { ...cookieOptions(deps.cookie), maxAge: undefined, expires: new Date(0) });
  if (!ans) return;
  ctx.status = 200;
  ctx.body = { ok: true };
}

/** GET /api/auth/sessions and DELETE /api/auth/sessions/:sessionId, answered by the service. */
async function sessions(ctx: Ctx, deps: AuthDeps, method: 'GET' | 'DELETE'): Promise<void> {
  const path = method === 'GET' ? '/api/auth/sessions' : `/api/auth/sessions/${encodeURIComponent(ctx.params.sessionId ?? '')}`;
  const ans = await proxy(ctx, deps, method, path, undefined);
  if (!ans) return;
  ctx.status = ans.status;
  ctx.body = ans.body;
}

/**
 * POST /api/auth/challenge/verify: a challenged sign-in (401
 * challenge_required) proves a second factor at the service; its answer
 * is a sign-in answer whose user is the service's, turned back into the
 * Strapi user the session was handed over for (by the user map, or, for a
 * user whose first sign-in was challenged, by the pending challenge).
 */
async function challengeVerify(ctx: Ctx, deps: AuthDeps): Promise<void> {
  const body = bodyOf(ctx);
  const ans = await proxy(ctx, deps, 'POST', '/api/auth/challenge/verify', body);
  if (!ans) return;
  const serviceUserId = ans.body?.user?.id;
  const pending = typeof body.challengeId === 'string' ? deps.users.challengeUser(body.challengeId) : null;
  const documentId = (typeof serviceUserId === 'string' ? await deps.users.documentId(serviceUserId) : null) ?? pending;
  if (documentId && documentId === pending && typeof serviceUserId === 'string') await deps.users.remember(serviceUserId, documentId);
  const user = documentId ? await deps.findUser(documentId) : null;
  if (!user || typeof ans.body?.jwt !== 'string') {
    deps.log.warn('magic-sessionmanager: a verified challenge names no known Strapi user');
    sendError(ctx, 401, 'Invalid credentials', { reason: 'unknown_user' });
    return;
  }
  answerTokens(ctx, deps, { jwt: ans.body.jwt, refreshToken: ans.body.refreshToken }, await deps.sanitizeUser(user, ctx));
  if (ans.body.deviceToken && ctx.body && typeof ctx.body === 'object') (ctx.body as Record<string, unknown>).deviceToken = ans.body.deviceToken;
}

/** The challenge routes that only pass through (send the email code, WebAuthn options). */
async function challengePass(ctx: Ctx, deps: AuthDeps, path: string): Promise<void> {
  const ans = await proxy(ctx, deps, 'POST', path, bodyOf(ctx));
  if (!ans) return;
  ctx.status = ans.status;
  ctx.body = ans.body;
}

/**
 * extendAuthController returns users-permissions' auth controller with the
 * sign-in actions handing their sessions to the service and the session
 * actions answered by it.
 */
export function extendAuthController(original: Record<string, Action>, deps: AuthDeps): Record<string, Action> {
  return {
    ...original,
    callback: afterSignIn(original.callback, deps, false),
    register: afterSignIn(original.register, deps, false),
    emailConfirmation: afterSignIn(original.emailConfirmation, deps, false),
    resetPassword: afterSignIn(original.resetPassword, deps, true),
    changePassword: afterSignIn(original.changePassword, deps, true),
    refresh: (ctx) => refresh(ctx, deps),
    logout: (ctx) => logout(ctx, deps),
    getSessions: (ctx) => sessions(ctx, deps, 'GET'),
    revokeSession: (ctx) => sessions(ctx, deps, 'DELETE'),
  };
}

/** The plugin's own content-API actions (the challenge routes). */
export function challengeController(deps: AuthDeps): Record<string, Action> {
  return {
    verify: (ctx) => challengeVerify(ctx, deps),
    send: (ctx) => challengePass(ctx, deps, '/api/auth/challenge/send'),
    options: (ctx) => challengePass(ctx, deps, '/api/auth/challenge/options'),
  };
}
