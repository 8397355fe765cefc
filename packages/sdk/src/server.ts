// Server side: verify access tokens offline against the service's JWKS and
// refuse ended sessions by following its revocation feed, as the Go client
// (package client) does. Express middleware: ./express; Fetch-API
// handlers (Next.js route handlers and middleware, Hono, Bun, Deno...):
// withSession below.

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import {
  NetworkError,
  SessionManagerError,
  ServiceUnavailableError,
  SessionTerminatedError,
  TERMINATED_REASON_HEADER,
  UnauthorizedError,
  errorFromResponse,
  type EndReason,
} from "./errors.js";
import { readEvents, type SSEEvent } from "./sse.js";

export * from "./errors.js";

/** What the verifier does while the revocation feed is not connected. */
export type FeedDownPolicy =
  /** Accept tokens that verify offline (the Go client's behaviour; the default). */
  | "accept"
  /** Ask the service (POST /api/auth/introspect) for every request until the feed is back. */
  | "introspect"
  /** Refuse every request with 503 until the feed is back (fail closed). */
  | "reject";

/** A logger: console fits. */
export interface Logger {
  warn(message: string, ...meta: unknown[]): void;
}

/** Options of a SessionVerifier. */
export interface VerifierOptions {
  /** The service's address, e.g. "https://sessions.internal". */
  baseUrl: string;
  /** An admin API token of scope service (msm_...): needed for the feed and introspection. */
  serviceToken?: string;
  /** The iss and aud tokens must carry (default "sessionmanager": SM_ISSUER, SM_AUDIENCE). */
  issuer?: string;
  audience?: string;
  /** Leeway for clock skew on exp, nbf and iat, in seconds (default 30). */
  clockTolerance?: number;
  /**
   * How long a fetched JWKS is used before it is refetched, in ms (default
   * 5 minutes: the server's Cache-Control max-age). A key the refetched
   * set no longer lists is refused from then on.
   */
  jwksMaxAge?: number;
  /** At most one refetch per this many ms for an unknown key id (default 10 s). */
  jwksCooldown?: number;
  /** Follow the revocation feed (default: true when serviceToken is set). */
  followFeed?: boolean;
  /** While the feed is down (default "accept", as the Go client). */
  whenFeedDown?: FeedDownPolicy;
  /** How long an ended session is remembered, in ms: at least the access-token lifetime (default 24 h). */
  revocationTtl?: number;
  /** Reconnect after this much silence on the feed, in ms (default 45 s: the server beats every 15 s). */
  feedIdleTimeout?: number;
  /** Reconnect backoff in ms: first delay (default 500) and cap (default 30 000). */
  backoffInitial?: number;
  backoffMax?: number;
  /** The fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Where feed disconnects are reported (default console). */
  logger?: Logger;
}

/** Every claim of a verified access token. */
export interface AccessTokenPayload {
  sub?: string;
  sid?: string;
  iss?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  nbf?: number;
  jti?: string;
  /** When the user last proved who they are (seconds since the epoch), when the server issues it. */
  auth_time?: number;
  /** How the session was proven (RFC 8176 values), when the server issues it. */
  amr?: string[];
  acr?: string;
  [claim: string]: unknown;
}

/** The verified claims of an access token. */
export interface SessionClaims {
  /** The user id. */
  sub: string;
  /** The session id. */
  sid: string;
  iss: string;
  aud: string[];
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat?: number;
  /** The key id that signed it. */
  kid: string;
  /** Every claim (auth_time, amr, acr... when the server issues them). */
  payload: AccessTokenPayload;
}

/** One ended session from the revocation feed. */
export interface Revocation {
  sid: string;
  sub: string;
  reason: EndReason;
  at: string;
  /** The feed event id (the cursor). */
  id: number;
}

/** The RFC 7662 answer of POST /api/auth/introspect. */
export interface Introspection {
  active: boolean;
  sub?: string;
  sid?: string;
  exp?: number;
  iat?: number;
  iss?: string;
  aud?: string;
  token_type?: string;
  username?: string;
  email?: string;
}

const maxTokenLength = 8192;
/** Verified tokens remembered (then the cache starts over: no LRU bookkeeping per request). */
const verifiedCacheSize = 10_000;

/** The one answer for every bad token, as on the server. */
function invalidToken(): UnauthorizedError {
  return new UnauthorizedError({ status: 401, name: "UnauthorizedError", message: "Invalid token", details: { reason: "invalid_token" } });
}

/** The 401 for a request without a bearer token, as on the server. */
export function missingToken(): UnauthorizedError {
  return new UnauthorizedError({
    status: 401,
    name: "UnauthorizedError",
    message: "Missing or invalid credentials",
    details: { reason: "missing_token" },
  });
}

function terminated(reason: EndReason): SessionTerminatedError {
  return new SessionTerminatedError(
    { status: 401, name: "UnauthorizedError", message: "Session terminated", details: { reason: reason || "unknown" } },
    reason,
  );
}

function unavailable(message: string, retryAfter = 2): ServiceUnavailableError {
  return new ServiceUnavailableError({ status: 503, name: "ServiceUnavailableError", message, details: {} }, { retryAfter });
}

/**
 * Verifies access tokens offline and refuses sessions the revocation feed
 * announced as ended. Create one per process, call start() to follow the
 * feed, close() on shutdown. Safe to share between requests.
 */
export class SessionVerifier {
  readonly #base: string;
  readonly #opt: Required<Omit<VerifierOptions, "serviceToken" | "fetch" | "logger" | "baseUrl">> & { serviceToken: string };
  readonly #fetch: typeof fetch;
  readonly #log: Logger;
  readonly #keys: JWTVerifyGetKey;
  readonly #revoked = new Map<string, { reason: EndReason; until: number }>();
  // Tokens that passed every check, until they expire: a token is checked
  // cryptographically once, not on every request (as the Go client).
  readonly #verified = new Map<string, { claims: SessionClaims; alg: string }>();
  readonly #revokedListeners = new Set<(r: Revocation) => void>();
  readonly #liveListeners = new Set<(live: boolean) => void>();
  #cursor = 0;
  #live = false;
  #running?: Promise<void>;
  #stop?: AbortController;

  constructor(options: VerifierOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError("SessionVerifier: baseUrl must be an absolute http(s) URL");
    }
    if ((base.protocol !== "http:" && base.protocol !== "https:") || !base.host) {
      throw new TypeError("SessionVerifier: baseUrl must be an absolute http(s) URL");
    }
    this.#base = base.href.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#log = options.logger ?? console;
    const serviceToken = options.serviceToken ?? "";
    this.#opt = {
      serviceToken,
      issuer: options.issuer ?? "sessionmanager",
      audience: options.audience ?? "sessionmanager",
      clockTolerance: options.clockTolerance ?? 30,
      jwksMaxAge: options.jwksMaxAge ?? 5 * 60_000,
      jwksCooldown: options.jwksCooldown ?? 10_000,
      followFeed: options.followFeed ?? serviceToken !== "",
      whenFeedDown: options.whenFeedDown ?? "accept",
      revocationTtl: options.revocationTtl ?? 24 * 3600_000,
      feedIdleTimeout: options.feedIdleTimeout ?? 45_000,
      backoffInitial: options.backoffInitial ?? 500,
      backoffMax: options.backoffMax ?? 30_000,
    };
    if (this.#opt.followFeed && !serviceToken) {
      throw new TypeError("SessionVerifier: the revocation feed needs a serviceToken (an admin API token of scope service)");
    }
    if (this.#opt.whenFeedDown === "introspect" && !serviceToken) {
      throw new TypeError('SessionVerifier: whenFeedDown "introspect" needs a serviceToken');
    }
    const remote = createRemoteJWKSet(new URL(this.#base + "/.well-known/jwks.json"), {
      cacheMaxAge: this.#opt.jwksMaxAge,
      cooldownDuration: this.#opt.jwksCooldown,
      [customFetch]: this.#fetch,
    });
    // A set that cannot be refetched keeps serving its known keys
    // (availability first, as the Go client), and the next try waits for
    // the cooldown: while the service is down, requests do not each wait on
    // a JWKS fetch. An unknown kid stays unknown.
    let failedAt = -Infinity;
    let stale: JWTVerifyGetKey | undefined;
    this.#keys = async (header, token) => {
      if (stale && Date.now() - failedAt < this.#opt.jwksCooldown) return stale(header, token);
      try {
        const key = await remote(header, token);
        stale = undefined;
        return key;
      } catch (err) {
        if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) throw err;
        const last = remote.jwks();
        if (!last) throw new KeysUnavailable(err);
        failedAt = Date.now();
        stale = createLocalJWKSet(last);
        return stale(header, token);
      }
    };
  }

  /** Starts following the revocation feed (no-op without followFeed or when running). */
  start(): this {
    if (!this.#opt.followFeed || this.#running) return this;
    const stop = new AbortController();
    this.#stop = stop;
    this.#running = this.#run(stop.signal);
    return this;
  }

  /** Stops following the feed and waits until the follower has ended. */
  async close(): Promise<void> {
    this.#stop?.abort();
    await this.#running;
    this.#running = undefined;
    this.#stop = undefined;
  }

  /** Whether the revocation feed is connected now. */
  get live(): boolean {
    return this.#live;
  }

  /** The id of the last feed event applied (the resume cursor). */
  get cursor(): number {
    return this.#cursor;
  }

  /** Resolves once the feed is connected; rejects after timeoutMs (default 10 s). */
  waitUntilLive(timeoutMs = 10_000): Promise<void> {
    if (this.#live) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(unavailable("revocation feed not connected"));
      }, timeoutMs);
      const off = this.onLiveChange((live) => {
        if (!live) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** Calls listener for every ended session the feed announces; returns an unsubscribe function. */
  onRevoked(listener: (r: Revocation) => void): () => void {
    this.#revokedListeners.add(listener);
    return () => this.#revokedListeners.delete(listener);
  }

  /** Calls listener when the feed connects (true) or drops (false). */
  onLiveChange(listener: (live: boolean) => void): () => void {
    this.#liveListeners.add(listener);
    return () => this.#liveListeners.delete(listener);
  }

  /** The end reason of a session the feed announced as ended, or undefined. */
  revoked(sessionId: string): EndReason | undefined {
    const r = this.#revoked.get(sessionId);
    return r && r.until > Date.now() ? r.reason : undefined;
  }

  /**
   * Verifies an access token: EdDSA only, typ at+jwt, a published key id,
   * the signature, iss, aud, a required exp, sub and sid; then refuses it
   * when its session ended (SessionTerminatedError with the reason), and
   * refuses a DPoP-bound token (cnf.jkt: proofs are not checked here). Every
   * failure is a SessionManagerError: 401 for the token, 503 when the
   * signing keys (or, by policy, the feed) are unavailable.
   */
  async verify(token: string): Promise<SessionClaims> {
    if (typeof token !== "string" || token === "" || token.length > maxTokenLength) throw invalidToken();
    const claims = { ...(await this.#check(token)) };
    const reason = this.revoked(claims.sid);
    if (reason !== undefined) throw terminated(reason);
    // A DPoP-bound token (cnf.jkt) is good only with a proof by its key,
    // which is not checked offline: refused, never taken as a bearer token.
    if ((claims.payload["cnf"] as { jkt?: unknown } | undefined)?.jkt !== undefined) {
      throw new UnauthorizedError({
        status: 401,
        name: "UnauthorizedError",
        message: "Invalid DPoP proof: this token is bound to a key (DPoP), and this verifier does not check proofs: check it with the service's introspection (dpop_proof, htm, htu)",
        details: { reason: "invalid_dpop_proof" },
      });
    }
    if (!this.#live && this.#opt.whenFeedDown !== "accept") {
      if (this.#opt.whenFeedDown === "reject") throw unavailable("revocation feed unavailable; try again");
      const answer = await this.introspect(token);
      if (!answer.active) throw invalidToken();
    }
    return claims;
  }

  /** Everything but revocation: from the cache while the token and its key are good. */
  async #check(token: string): Promise<SessionClaims> {
    const hit = this.#verified.get(token);
    if (hit && Date.now() / 1000 < hit.claims.exp + this.#opt.clockTolerance) {
      // A cached token is only as good as its key: once a refetched JWKS
      // no longer lists it (withdrawn), the token is refused.
      try {
        await this.#keys({ alg: hit.alg, kid: hit.claims.kid }, { payload: "", signature: "" });
        return hit.claims;
      } catch (err) {
        if (err instanceof KeysUnavailable) throw unavailable("signing keys unavailable; try again");
        this.#verified.delete(token);
        throw invalidToken();
      }
    }
    if (hit) this.#verified.delete(token);
    let claims: SessionClaims;
    let alg: string;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.#keys, {
        algorithms: ["EdDSA", "Ed25519"],
        typ: "at+jwt",
        issuer: this.#opt.issuer,
        audience: this.#opt.audience,
        clockTolerance: this.#opt.clockTolerance,
        requiredClaims: ["exp", "sub"],
      });
      const sid = payload["sid"];
      if (typeof sid !== "string" || sid === "" || !payload.sub || !protectedHeader.kid) throw invalidToken();
      claims = {
        sub: payload.sub,
        sid,
        iss: payload.iss ?? "",
        aud: Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [],
        exp: payload.exp ?? 0,
        kid: protectedHeader.kid,
        payload,
      };
      if (payload.iat !== undefined) claims.iat = payload.iat;
      alg = protectedHeader.alg;
    } catch (err) {
      if (err instanceof SessionManagerError) throw err;
      if (err instanceof KeysUnavailable) throw unavailable("signing keys unavailable; try again");
      throw invalidToken();
    }
    // Only tokens that passed every check get in, so forged ones cannot fill it.
    if (this.#verified.size >= verifiedCacheSize) this.#verified.clear();
    this.#verified.set(token, { claims, alg });
    return claims;
  }

  /**
   * Asks the service about a token (RFC 7662, service token): the fallback
   * for a process that cannot follow the feed. An ended session, a forged
   * or expired token: {active: false}.
   */
  async introspect(token: string): Promise<Introspection> {
    if (!this.#opt.serviceToken) throw new TypeError("SessionVerifier: introspection needs a serviceToken");
    let res: Response;
    try {
      res = await this.#fetch(this.#base + "/api/auth/introspect", {
        method: "POST",
        headers: { Authorization: "Bearer " + this.#opt.serviceToken, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }).toString(),
        signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      throw unavailable("session service unreachable; try again");
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const e = errorFromResponse(res.status, body, res.headers);
      // A refused service token is our configuration, not the user's fault.
      throw res.status >= 500 || res.status === 401 || res.status === 403 ? unavailable("introspection refused: " + e.message) : e;
    }
    if (typeof body !== "object" || body === null || typeof (body as Introspection).active !== "boolean") {
      throw unavailable("introspection answered something else than RFC 7662 JSON");
    }
    return body as Introspection;
  }

  async #run(signal: AbortSignal): Promise<void> {
    let backoff = this.#opt.backoffInitial;
    while (!signal.aborted) {
      const started = Date.now();
      let cause: unknown;
      try {
        await this.#follow(signal);
      } catch (err) {
        cause = err;
      }
      this.#setLive(false);
      if (signal.aborted) return;
      if (Date.now() - started > 60_000) backoff = this.#opt.backoffInitial;
      this.#log.warn(`sessionmanager: revocation feed disconnected (${describe(cause)}); reconnecting in ${backoff}ms`);
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, this.#opt.backoffMax);
    }
  }

  /** Reads one connection of the feed. */
  async #follow(signal: AbortSignal): Promise<void> {
    const conn = new AbortController();
    const abort = () => conn.abort();
    signal.addEventListener("abort", abort);
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const silence = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => conn.abort(new Error("feed silent")), this.#opt.feedIdleTimeout);
      unref(watchdog);
    };
    try {
      const headers: Record<string, string> = { Authorization: "Bearer " + this.#opt.serviceToken, Accept: "text/event-stream" };
      if (this.#cursor > 0) headers["Last-Event-ID"] = String(this.#cursor);
      silence(); // a connection that never answers is dropped as well
      const res = await this.#fetch(this.#base + "/api/auth/revocations", { headers, signal: conn.signal });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`status ${res.status}`);
      }
      this.#setLive(true);
      silence();
      await readEvents(res.body, (ev) => this.#apply(ev), silence);
      throw new Error("closed by the server");
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", abort);
      conn.abort();
    }
  }

  /** Records one revocation and moves the cursor. */
  #apply(ev: SSEEvent): void {
    if (ev.event !== "revoked") return;
    let data: { sid?: unknown; sub?: unknown; reason?: unknown; at?: unknown };
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (typeof data.sid !== "string" || data.sid === "") return;
    const id = Number.parseInt(ev.id, 10);
    const now = Date.now();
    const reason = typeof data.reason === "string" ? data.reason : "";
    this.#revoked.set(data.sid, { reason, until: now + this.#opt.revocationTtl });
    if (Number.isSafeInteger(id) && id > this.#cursor) this.#cursor = id;
    // Forget revocations older than any access token could be.
    if (this.#revoked.size % 256 === 0) {
      for (const [sid, r] of this.#revoked) if (r.until <= now) this.#revoked.delete(sid);
    }
    const rev: Revocation = {
      sid: data.sid,
      sub: typeof data.sub === "string" ? data.sub : "",
      reason,
      at: typeof data.at === "string" ? data.at : "",
      id: Number.isSafeInteger(id) ? id : 0,
    };
    for (const l of this.#revokedListeners) safely(() => l(rev), this.#log);
  }

  #setLive(live: boolean): void {
    if (this.#live === live) return;
    this.#live = live;
    for (const l of this.#liveListeners) safely(() => l(live), this.#log);
  }
}

/** Creates a SessionVerifier and starts following the feed when it has a service token. */
export function createVerifier(options: VerifierOptions): SessionVerifier {
  return new SessionVerifier(options).start();
}

class KeysUnavailable extends Error {
  constructor(cause: unknown) {
    super("signing keys unavailable", { cause });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}

function safely(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (err) {
    log.warn("sessionmanager: a listener threw", err);
  }
}

function unref(t: unknown): void {
  (t as { unref?: () => void })?.unref?.();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** The token of an "Authorization: Bearer <token>" header value, or "". */
export function bearerToken(authorization: string | null | undefined): string {
  if (typeof authorization !== "string" || authorization.length <= 7) return "";
  if (authorization.slice(0, 7).toLowerCase() !== "bearer ") return "";
  return authorization.slice(7).trim();
}

/** An error as the service answers it: status, headers and the Strapi-style JSON body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Renders an error the way the service does: the Strapi-style body, the
 * X-Session-Terminated-Reason header for an ended session,
 * WWW-Authenticate on 401, Retry-After when set. Anything that is not a
 * SessionManagerError is a 500 "internal error" (log it yourself).
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  const e =
    err instanceof SessionManagerError && !(err instanceof NetworkError)
      ? err
      : new SessionManagerError({ status: 500, name: "ApplicationError", message: "internal error", details: {} });
  const headers: Record<string, string> = { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" };
  if (e instanceof SessionTerminatedError) headers[TERMINATED_REASON_HEADER] = e.endReason;
  if (e.status === 401) headers["WWW-Authenticate"] = 'Bearer error="invalid_token"';
  if (e.retryAfter !== undefined) headers["Retry-After"] = String(e.retryAfter);
  return { status: e.status, headers, body: JSON.stringify(e.toJSON()) };
}

/** errorAnswer as a Fetch-API Response. */
export function errorResponse(err: unknown): Response {
  const a = errorAnswer(err);
  return new Response(a.body, { status: a.status, headers: a.headers });
}

/** Verifies the bearer token of a Fetch-API Request; throws a SessionManagerError. */
export async function authenticate(verifier: SessionVerifier, request: Request): Promise<SessionClaims> {
  const token = bearerToken(request.headers.get("Authorization"));
  if (!token) throw missingToken();
  return verifier.verify(token);
}

/**
 * Wraps a Fetch-API handler (Next.js route handler, Hono, Bun.serve,
 * Deno.serve, Cloudflare Workers...): the handler runs with the verified
 * claims; any other request gets the service's 401 (or 503) answer.
 *
 *   export const GET = withSession(verifier, (req, { claims }) => Response.json({ user: claims.sub }));
 */
export function withSession<A extends unknown[]>(
  verifier: SessionVerifier,
  handler: (request: Request, session: { claims: SessionClaims }, ...rest: A) => Response | Promise<Response>,
): (request: Request, ...rest: A) => Promise<Response> {
  return async (request, ...rest) => {
    let claims: SessionClaims;
    try {
      claims = await authenticate(verifier, request);
    } catch (err) {
      return errorResponse(err);
    }
    return handler(request, { claims }, ...rest);
  };
}
