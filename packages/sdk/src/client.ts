// The client (browsers and Node): sign-up, sign-in (password, magic link,
// second-factor challenge), token refresh with one rotation at a time across
// concurrent calls and across tabs, logout, my sessions, and a typed
// "session terminated" event.

import {
  SessionManagerError,
  SessionTerminatedError,
  TERMINATED_REASON_HEADER,
  UnauthorizedError,
  errorFromResponse,
  networkError,
  type EndReason,
} from "./errors.js";
import { DPoPSigner, defaultKeyStore, type DPoPKeyStore } from "./dpop.js";
import { defaultLocks, defaultStorage, type LockManagerLike, type TokenStorage } from "./storage.js";

/** A user, in Strapi users-permissions' shape. */
export interface User {
  id: string;
  documentId: string;
  username: string;
  email: string;
  provider: string;
  confirmed: boolean;
  blocked: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A device as parsed from the user agent. */
export interface Device {
  type: string;
  browser: string;
  browserVersion?: string;
  os: string;
  osVersion?: string;
}

/** The session summary of a login answer. */
export interface LoginSession {
  id: string;
  createdAt: string;
  expiresAt: string;
  device: Device;
  ip: string;
}

/** The answer of every sign-in (password, magic link, passed challenge). */
export interface LoginResult {
  jwt: string;
  /** Absent when the server keeps it in an HttpOnly cookie. */
  refreshToken?: string;
  /** When the access token (jwt) expires. */
  expiresAt: string;
  user: User;
  session: LoginSession;
  /** A trusted-device token, after a challenge passed with rememberDevice. */
  deviceToken?: string;
  /** "DPoP" when the tokens are bound to this client's DPoP key. */
  token_type?: "DPoP";
}

/** A sign-up that must confirm its email before it gets a session. */
export interface PendingConfirmation {
  user: User;
  confirmationRequired: true;
}

/** One of the signed-in user's sessions (GET /api/sessions/me). */
export interface MySession {
  id: string;
  userId: string;
  status: "active" | "inactive" | "ended";
  endReason?: EndReason;
  authMethod: string;
  createdAt: string;
  lastSeenAt: string;
  endedAt?: string;
  expiresAt: string;
  ip: string;
  userAgent: string;
  device: Device;
  location: Record<string, unknown>;
  threat: Record<string, unknown>;
  score: number;
  reasons: unknown[];
  /** This client's own session. */
  current: boolean;
}

/** What the client keeps in its storage while signed in. */
export interface StoredSession {
  jwt: string;
  /** Absent in cookie mode (the refresh token is an HttpOnly cookie). */
  refreshToken?: string;
  expiresAt: string;
  sessionId: string;
  user?: User;
}

/** The events of a client (and of the other tabs sharing its storage). */
export interface SessionEvents {
  /** New tokens: a sign-in or a refresh, here or in another tab. */
  tokens: { session: StoredSession };
  /** The session ended on the server: force logout, reuse, expiry... */
  terminated: { reason: EndReason; error?: SessionManagerError };
  /** Signed out on purpose (logout here or in another tab). */
  logout: Record<string, never>;
}

/** Options of a SessionClient. */
export interface SessionClientOptions {
  /** The service's address; "" (the default) is this page's origin. */
  baseUrl?: string;
  /** Where the signed-in state lives (default: IndexedDB in browsers, else localStorage, else memory). */
  storage?: TokenStorage;
  /** The storage key, also the lock and channel name (default "msm.session"). */
  storageKey?: string;
  /** Exclusive locks shared by the tabs (default: navigator.locks, else within this realm). */
  locks?: LockManagerLike;
  /** Tell other tabs about new tokens and sign-outs (default: BroadcastChannel when there is one). */
  broadcast?: boolean;
  /**
   * The server keeps the refresh token in an HttpOnly cookie
   * (SM_REFRESH_COOKIE): it is never stored here and requests carry
   * credentials.
   */
  refreshCookie?: boolean;
  /** Refresh when the access token expires within this many ms (default 30 000). */
  refreshMargin?: number;
  /** The fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /**
   * DPoP (RFC 9449): sign every request with a key made by WebCrypto as
   * non-extractable, so the tokens are bound to this device and useless
   * anywhere else. true keeps the key in IndexedDB (browsers: shared by the
   * tabs) or in memory (Node); or give the key store.
   */
  dpop?: boolean | { keyStore?: DPoPKeyStore };
}

/** The proof of a second factor for POST /api/auth/challenge/verify. */
export interface ChallengeProof {
  challengeId: string;
  method: "email" | "totp" | "recovery_code" | "webauthn" | (string & {});
  /** The code (email, totp, recovery_code). */
  code?: string;
  /** The PublicKeyCredential JSON (webauthn). */
  credential?: unknown;
  /** Ask for a trusted-device token (kept by the client, sent with later logins). */
  rememberDevice?: boolean;
}

type Listener<K extends keyof SessionEvents> = (event: SessionEvents[K]) => void;

type Broadcast = { type: "tokens"; session: StoredSession } | { type: "terminated"; reason: EndReason } | { type: "logout" };

function notSignedIn(): UnauthorizedError {
  return new UnauthorizedError({ status: 401, name: "UnauthorizedError", message: "Not signed in", details: { reason: "not_signed_in" } });
}

/**
 * A signed-in user's side of Magic Session Manager. One per tab (or per
 * process); tabs that share the storage (localStorage) share the session.
 */
export class SessionClient {
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #storage: TokenStorage;
  readonly #key: string;
  readonly #locks: LockManagerLike;
  readonly #cookie: boolean;
  readonly #margin: number;
  readonly #listeners: { [K in keyof SessionEvents]: Set<Listener<K>> } = { tokens: new Set(), terminated: new Set(), logout: new Set() };
  readonly #channel?: BroadcastChannel;
  readonly #dpop?: DPoPSigner;
  #inflight?: Promise<StoredSession>;

  constructor(options: SessionClientOptions = {}) {
    this.#base = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#storage = options.storage ?? defaultStorage();
    this.#key = options.storageKey ?? "msm.session";
    this.#locks = options.locks ?? defaultLocks();
    this.#cookie = options.refreshCookie ?? false;
    this.#margin = options.refreshMargin ?? 30_000;
    if (options.dpop) {
      this.#dpop = new DPoPSigner(typeof options.dpop === "object" && options.dpop.keyStore ? options.dpop.keyStore : defaultKeyStore(), this.#locks);
    }
    if ((options.broadcast ?? true) && typeof BroadcastChannel === "function") {
      this.#channel = new BroadcastChannel(this.#key);
      this.#channel.onmessage = (e: MessageEvent<Broadcast>) => void this.#fromOtherTab(e.data);
      (this.#channel as unknown as { unref?: () => void }).unref?.(); // Node: do not hold the process open
    }
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.#channel?.close();
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof SessionEvents>(type: K, listener: Listener<K>): () => void {
    this.#listeners[type].add(listener);
    return () => this.#listeners[type].delete(listener);
  }

  // ---- Sign-up and sign-in ----

  /**
   * POST /api/auth/local/register: signed in, or waiting for the email
   * confirmation. A sign-up the risk policy challenges throws
   * ChallengeRequiredError, as login does.
   */
  async register(input: { username: string; email: string; password: string }): Promise<LoginResult | PendingConfirmation> {
    const res = await this.#call<LoginResult | { user: User }>("POST", "/api/auth/local/register", { body: input });
    if (!("jwt" in res)) return { user: res.user, confirmationRequired: true };
    await this.#signedIn(res);
    return res;
  }

  /**
   * POST /api/auth/local. A login the risk policy challenges throws
   * ChallengeRequiredError: prove a factor with verifyChallenge.
   */
  async login(input: { identifier: string; password: string; deviceId?: string }): Promise<LoginResult> {
    const body: Record<string, unknown> = { ...input };
    const device = await this.#storage.get(this.#key + ".device");
    if (device) body["deviceToken"] = device;
    return this.#signedIn(await this.#call<LoginResult>("POST", "/api/auth/local", { body }));
  }

  /** POST /api/auth/magic-link: the answer is the same whether or not the account exists. */
  async requestMagicLink(input: { email: string; redirect?: string }): Promise<void> {
    await this.#call("POST", "/api/auth/magic-link", { body: input });
  }

  /** POST /api/auth/magic-link/verify with the token from the link. */
  async verifyMagicLink(token: string): Promise<LoginResult> {
    return this.#signedIn(await this.#call<LoginResult>("POST", "/api/auth/magic-link/verify", { body: { token } }));
  }

  /**
   * POST /api/auth/challenge/send: sends (again) the email code of a
   * challenge. The first code is not sent by itself: call this when the
   * user picks email.
   */
  async sendChallengeCode(challengeId: string, method = "email"): Promise<{ sent: boolean; method: string; expiresAt?: string }> {
    return this.#call("POST", "/api/auth/challenge/send", { body: { challengeId, method } });
  }

  /** POST /api/auth/challenge/options: the WebAuthn request options of a challenge. */
  async challengeOptions(challengeId: string): Promise<unknown> {
    return this.#call("POST", "/api/auth/challenge/options", { body: { challengeId } });
  }

  /** POST /api/auth/challenge/verify: a passed challenge signs in like a login. */
  async verifyChallenge(proof: ChallengeProof): Promise<LoginResult> {
    const res = await this.#call<LoginResult>("POST", "/api/auth/challenge/verify", { body: proof });
    if (res.deviceToken) await this.#storage.set(this.#key + ".device", res.deviceToken);
    return this.#signedIn(res);
  }

  /**
   * Passes a challenge with a passkey in a browser: fetches the options,
   * asks the authenticator (navigator.credentials.get) and verifies.
   */
  async verifyChallengeWithPasskey(challengeId: string, rememberDevice?: boolean): Promise<LoginResult> {
    type PKC = { parseRequestOptionsFromJSON?: (o: unknown) => PublicKeyCredentialRequestOptions };
    const pkc = (globalThis as { PublicKeyCredential?: PKC }).PublicKeyCredential;
    if (!pkc?.parseRequestOptionsFromJSON || !globalThis.navigator?.credentials) {
      throw new TypeError("verifyChallengeWithPasskey needs a browser with WebAuthn JSON support");
    }
    const options = (await this.challengeOptions(challengeId)) as { publicKey?: unknown };
    const publicKey = pkc.parseRequestOptionsFromJSON(options.publicKey ?? options);
    const credential = (await navigator.credentials.get({ publicKey })) as (Credential & { toJSON(): unknown }) | null;
    if (!credential) throw new TypeError("no passkey was chosen");
    return this.verifyChallenge({ challengeId, method: "webauthn", credential: credential.toJSON(), rememberDevice });
  }

  // ---- Tokens ----

  /** The stored signed-in state, or null. */
  async session(): Promise<StoredSession | null> {
    const raw = await this.#storage.get(this.#key);
    if (!raw) return null;
    try {
      const s = JSON.parse(raw) as StoredSession;
      return typeof s.jwt === "string" && typeof s.expiresAt === "string" ? s : null;
    } catch {
      return null;
    }
  }

  /** A usable access token (refreshed first when it expires soon), or null when signed out. */
  async accessToken(): Promise<string | null> {
    const s = await this.session();
    if (!s) return null;
    if (!this.#expiresSoon(s)) return s.jwt;
    try {
      return (await this.refresh()).jwt;
    } catch (err) {
      if (err instanceof UnauthorizedError) return null;
      throw err;
    }
  }

  /**
   * Rotates the refresh token (POST /api/auth/refresh). Concurrent calls
   * share one request, and so do the tabs sharing the storage: under an
   * exclusive lock each re-reads the storage and takes the tokens another
   * tab got meanwhile instead of spending the old refresh token again
   * (which the server would treat as reuse and end the session).
   */
  refresh(): Promise<StoredSession> {
    if (this.#inflight) return this.#inflight;
    const run = (async () => {
      const seen = (await this.session())?.jwt;
      return this.#locks.request(this.#key + ".refresh", async () => {
        const stored = await this.session();
        if (!stored) throw notSignedIn();
        // Another tab (or client) rotated while we waited: its tokens are
        // as new as they get, so take them unless they already expired.
        if (seen !== undefined && stored.jwt !== seen && !this.#expiresWithin(stored, 0)) return stored;
        let res: { jwt: string; refreshToken?: string; expiresAt: string };
        try {
          res = await this.#call("POST", "/api/auth/refresh", this.#cookie ? {} : { body: { refreshToken: stored.refreshToken ?? "" } });
        } catch (err) {
          if (err instanceof UnauthorizedError) await this.#ended(err instanceof SessionTerminatedError ? err.endReason : "unknown", err);
          throw err;
        }
        const next: StoredSession = { ...stored, jwt: res.jwt, expiresAt: res.expiresAt };
        if (!this.#cookie) next.refreshToken = res.refreshToken;
        await this.#save(next);
        return next;
      });
    })();
    this.#inflight = run;
    const clear = () => {
      if (this.#inflight === run) this.#inflight = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /**
   * fetch with the access token: refreshed first when it expires soon,
   * and once more when the answer is a 401 that is not the end of the
   * session. A 401 with X-Session-Terminated-Reason signs this client out
   * and emits "terminated". For your own API as well as the service's.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const send = async (token: string | null) => {
      const headers = new Headers(init.headers);
      if (token) await this.#authorize(headers, init.method ?? "GET", String(input), token);
      return this.#fetch(input, { ...init, headers });
    };
    const token = await this.accessToken();
    const res = await send(token);
    if (res.status !== 401 || !token) return res;
    const reason = res.headers.get(TERMINATED_REASON_HEADER);
    if (reason) {
      await this.#ended(reason);
      return res;
    }
    if (init.body instanceof ReadableStream) return res; // a stream cannot be sent twice
    const current = await this.session();
    let retry: string;
    try {
      retry = current && current.jwt !== token ? current.jwt : (await this.refresh()).jwt;
    } catch {
      return res;
    }
    return send(retry);
  }

  /** POST /api/auth/logout: ends this session on the server and signs out every tab. */
  async logout(): Promise<void> {
    try {
      const token = await this.accessToken();
      if (token) await this.#call("POST", "/api/auth/logout", { token });
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err; // already ended: signed out anyway
    }
    await this.#signedOut();
  }

  async #signedOut(): Promise<void> {
    await this.#storage.remove(this.#key);
    this.#post({ type: "logout" });
    this.#emit("logout", {});
  }

  // ---- The signed-in user ----

  /** GET /api/users/me. */
  me(): Promise<User> {
    return this.#authed<User>("GET", "/api/users/me");
  }

  /** GET /api/sessions/me: this user's sessions (live ones; all with {all: true}). */
  async listSessions(options: { all?: boolean } = {}): Promise<MySession[]> {
    const res = await this.#authed<{ data: MySession[] }>("GET", "/api/sessions/me" + (options.all ? "?all=true" : ""));
    return res.data;
  }

  /** DELETE /api/sessions/me/:id: ends one of this user's sessions (this one signs out). */
  async endSession(sessionId: string): Promise<void> {
    await this.#authed("DELETE", "/api/sessions/me/" + encodeURIComponent(sessionId));
    if (sessionId === (await this.session())?.sessionId) await this.#signedOut();
  }

  /** POST /api/sessions/me/logout-others: ends every other session; returns how many. */
  async endOtherSessions(): Promise<number> {
    return (await this.#authed<{ ended: number }>("POST", "/api/sessions/me/logout-others")).ended;
  }

  // ---- Internals ----

  #expiresSoon(s: StoredSession): boolean {
    return this.#expiresWithin(s, this.#margin);
  }

  #expiresWithin(s: StoredSession, ms: number): boolean {
    const at = Date.parse(s.expiresAt);
    return !Number.isFinite(at) || at - Date.now() <= ms;
  }

  async #signedIn(res: LoginResult): Promise<LoginResult> {
    const s: StoredSession = { jwt: res.jwt, expiresAt: res.expiresAt, sessionId: res.session.id, user: res.user };
    if (!this.#cookie && res.refreshToken) s.refreshToken = res.refreshToken;
    await this.#save(s);
    return res;
  }

  async #save(s: StoredSession): Promise<void> {
    await this.#storage.set(this.#key, JSON.stringify(s));
    this.#post({ type: "tokens", session: s });
    this.#emit("tokens", { session: s });
  }

  /** The session ended on the server: forget it here and in every tab. */
  async #ended(reason: EndReason, error?: SessionManagerError): Promise<void> {
    const had = await this.session();
    await this.#storage.remove(this.#key);
    if (!had) return; // already known (another call or tab got here first)
    this.#post({ type: "terminated", reason });
    this.#emit("terminated", error ? { reason, error } : { reason });
  }

  async #fromOtherTab(msg: Broadcast): Promise<void> {
    switch (msg?.type) {
      case "tokens":
        this.#emit("tokens", { session: msg.session });
        return;
      case "terminated":
        this.#emit("terminated", { reason: msg.reason });
        return;
      case "logout":
        this.#emit("logout", {});
        return;
    }
  }

  #post(msg: Broadcast): void {
    try {
      this.#channel?.postMessage(msg);
    } catch {
      // A closed channel: nothing to tell.
    }
  }

  #emit<K extends keyof SessionEvents>(type: K, event: SessionEvents[K]): void {
    for (const l of this.#listeners[type]) {
      try {
        (l as Listener<K>)(event);
      } catch (err) {
        // One listener's bug must not stop the others nor the client.
        console.error("sessionmanager: a", type, "listener threw", err);
      }
    }
  }

  /** A call with the access token; a terminated session signs out and emits. */
  async #authed<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await this.accessToken();
    if (!token) throw notSignedIn();
    try {
      return await this.#call<T>(method, path, body === undefined ? { token } : { token, body });
    } catch (err) {
      if (err instanceof SessionTerminatedError) await this.#ended(err.endReason, err);
      throw err;
    }
  }

  /**
   * Sets the Authorization header for token and, with DPoP, the proof of
   * this request (a fresh one each time: a proof is good once).
   */
  async #authorize(headers: Headers, method: string, url: string, token?: string): Promise<void> {
    if (this.#dpop) {
      headers.set("DPoP", await this.#dpop.proof(method, url, token));
      if (token) headers.set("Authorization", "DPoP " + token);
    } else if (token) {
      headers.set("Authorization", "Bearer " + token);
    }
  }

  /** The RFC 7638 thumbprint of this client's DPoP key (the tokens' cnf.jkt); null without DPoP. */
  async dpopThumbprint(): Promise<string | null> {
    return this.#dpop ? this.#dpop.thumbprint() : null;
  }

  async #call<T>(method: string, path: string, opts: { body?: unknown; token?: string } = {}): Promise<T> {
    const headers = new Headers({ Accept: "application/json" });
    if (opts.body !== undefined) headers.set("Content-Type", "application/json");
    await this.#authorize(headers, method, this.#base + path, opts.token);
    let res: Response;
    try {
      res = await this.#fetch(this.#base + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: this.#cookie ? "include" : "same-origin",
      });
    } catch (err) {
      throw networkError(`${method} ${path}: no answer from the session service`, err);
    }
    const text = await res.text().catch(() => "");
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) throw errorFromResponse(res.status, body, res.headers);
    if (body === undefined && text) throw networkError(`${method} ${path}: the answer is not JSON`);
    return body as T;
  }
}
