// Typed errors from the service's Strapi-style error shape:
// {"data":null,"error":{"status","name","message","details"}}.

/** The error member of a Strapi-style error answer. */
export interface ErrorPayload {
  status: number;
  name: string;
  message: string;
  details: Record<string, unknown>;
}

/** The header that carries the end reason of a terminated session. */
export const TERMINATED_REASON_HEADER = "X-Session-Terminated-Reason";

/** Why a session ended (the server's end reasons; others may come later). */
export type EndReason =
  | "logout"
  | "manual"
  | "idle"
  | "expired"
  | "blocked"
  | "refresh_reuse"
  | "password_changed"
  | "evicted"
  | "erased"
  | (string & {});

/** One invalid input field, as named by the server. */
export interface FieldError {
  path: string[];
  name: string;
  message: string;
}

/**
 * Every error the SDK throws for an answer of the service (and for a
 * request that never got one: status 0, NetworkError). `kind` is Strapi's
 * error name (ValidationError, UnauthorizedError, ...); `reason` is the
 * machine-readable reason code of details.reason when the server gave one.
 */
export class SessionManagerError extends Error {
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** Strapi's error name, e.g. "ValidationError". */
  readonly kind: string;
  /** details.reason, e.g. "invalid_token", "refresh_reuse", "challenge_required". */
  readonly reason?: string;
  /** The whole details object of the answer. */
  readonly details: Record<string, unknown>;
  /** details.fields: each invalid field with why. */
  readonly fields: Record<string, string>;
  /** Seconds from the Retry-After header (429, 503). */
  readonly retryAfter?: number;

  constructor(payload: ErrorPayload, init?: { retryAfter?: number; cause?: unknown }) {
    super(payload.message, init?.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = payload.status;
    this.kind = payload.name;
    this.details = payload.details ?? {};
    const reason = this.details["reason"];
    if (typeof reason === "string" && reason !== "") this.reason = reason;
    const fields = this.details["fields"];
    this.fields = isStringRecord(fields) ? fields : {};
    if (init?.retryAfter !== undefined) this.retryAfter = init.retryAfter;
  }

  /** The Strapi-style error document of this error. */
  toJSON(): { data: null; error: ErrorPayload } {
    return { data: null, error: { status: this.status, name: this.kind, message: this.message, details: this.details } };
  }
}

/** 400: bad input; `fields` names each invalid field. */
export class ValidationError extends SessionManagerError {}
/** 401: missing, invalid or expired credentials. */
export class UnauthorizedError extends SessionManagerError {}
/** 403: refused (blocked account, geo-fence, wrong token scope...). */
export class ForbiddenError extends SessionManagerError {}
/** 404: no such thing (or not yours). */
export class NotFoundError extends SessionManagerError {}
/** 409 and other application errors. */
export class ApplicationError extends SessionManagerError {}
/** 429: too many attempts; `retryAfter` says when to try again. */
export class RateLimitError extends SessionManagerError {}
/** 503: the service (or something it needs) is unavailable; try again. */
export class ServiceUnavailableError extends SessionManagerError {}
/** The request never got an answer (network down, aborted, not JSON). */
export class NetworkError extends SessionManagerError {}

/** 401 on a session that ended: `endReason` says why (never empty). */
export class SessionTerminatedError extends UnauthorizedError {
  readonly endReason: EndReason;
  constructor(payload: ErrorPayload, endReason: EndReason, init?: { retryAfter?: number; cause?: unknown }) {
    super(payload, init);
    this.endReason = endReason || "unknown";
  }
}

/** A pending second-factor challenge (issue 17's login flow). */
export interface Challenge {
  /** Opaque id to send back with the proof. */
  id: string;
  /** The user's factors, strongest first: "webauthn", "totp", "email"... */
  methods: string[];
  /** When the challenge expires (RFC 3339). */
  expiresAt: string;
}

/** 401 with reason challenge_required: no session yet; prove a second factor. */
export class ChallengeRequiredError extends UnauthorizedError {
  readonly challenge: Challenge;
  constructor(payload: ErrorPayload, challenge: Challenge, init?: { retryAfter?: number }) {
    super(payload, init);
    this.challenge = challenge;
  }
}

/**
 * 401 with reason step_up_required: the session must prove the user again
 * (recently, or with a stronger factor) before this action. maxAge (seconds)
 * and acrValues come from the answer's details when the server gives them.
 */
export class StepUpRequiredError extends UnauthorizedError {
  readonly maxAge?: number;
  readonly acrValues?: string;
  constructor(payload: ErrorPayload, init?: { retryAfter?: number }) {
    super(payload, init);
    const maxAge = Number(payload.details["maxAge"]);
    if (Number.isFinite(maxAge)) this.maxAge = maxAge;
    const acr = payload.details["acrValues"];
    if (typeof acr === "string") this.acrValues = acr;
  }
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

function asChallenge(v: unknown): Challenge | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const c = v as Record<string, unknown>;
  if (typeof c["id"] !== "string" || !Array.isArray(c["methods"])) return undefined;
  return {
    id: c["id"],
    methods: c["methods"].filter((m): m is string => typeof m === "string"),
    expiresAt: typeof c["expiresAt"] === "string" ? c["expiresAt"] : "",
  };
}

const byStatus: Record<number, new (p: ErrorPayload, init?: { retryAfter?: number }) => SessionManagerError> = {
  400: ValidationError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

/**
 * Builds the typed error for an error answer: its status, its decoded body
 * (the Strapi-style document, or anything else) and its headers.
 */
export function errorFromResponse(status: number, body: unknown, headers?: Headers): SessionManagerError {
  const doc = (typeof body === "object" && body !== null ? (body as Record<string, unknown>)["error"] : undefined) as
    | Partial<ErrorPayload>
    | undefined;
  const payload: ErrorPayload = {
    status,
    name: typeof doc?.name === "string" ? doc.name : defaultName(status),
    message: typeof doc?.message === "string" ? doc.message : `HTTP ${status}`,
    details: typeof doc?.details === "object" && doc.details !== null ? (doc.details as Record<string, unknown>) : {},
  };
  const ra = Number.parseInt(headers?.get("Retry-After") ?? "", 10);
  const init = Number.isFinite(ra) && ra >= 0 ? { retryAfter: ra } : undefined;
  const terminated = headers?.get(TERMINATED_REASON_HEADER);
  if (status === 401 && terminated) return new SessionTerminatedError(payload, terminated, init);
  if (status === 401 && payload.details["reason"] === "challenge_required") {
    const challenge = asChallenge(payload.details["challenge"]);
    if (challenge) return new ChallengeRequiredError(payload, challenge, init);
  }
  if (status === 401 && payload.details["reason"] === "step_up_required") return new StepUpRequiredError(payload, init);
  const ctor = byStatus[status] ?? ApplicationError;
  return new ctor(payload, init);
}

function defaultName(status: number): string {
  switch (status) {
    case 400:
      return "ValidationError";
    case 401:
      return "UnauthorizedError";
    case 403:
      return "ForbiddenError";
    case 404:
      return "NotFoundError";
    case 429:
      return "RateLimitError";
    case 503:
      return "ServiceUnavailableError";
  }
  return "ApplicationError";
}

/** The error for a request that got no usable answer. */
export function networkError(message: string, cause?: unknown): NetworkError {
  return new NetworkError({ status: 0, name: "NetworkError", message, details: {} }, { cause });
}
