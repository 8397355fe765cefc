// Express middleware (Express 4 and 5; any Connect-style framework whose
// response is Node's http.ServerResponse).

import type { IncomingMessage, ServerResponse } from "node:http";
import { bearerToken, errorAnswer, missingToken, type SessionClaims, type SessionVerifier } from "./server.js";

export type { SessionClaims, SessionVerifier } from "./server.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified claims of the request's access token (set by requireSession). */
      auth?: SessionClaims;
    }
  }
}

/** Options of requireSession. */
export interface RequireSessionOptions {
  /**
   * Let requests without an Authorization header through without claims
   * (req.auth undefined); a bad token is still refused. Default false.
   */
  optional?: boolean;
}

type Next = (err?: unknown) => void;

/**
 * Verifies the bearer access token of every request and sets req.auth
 * (and res.locals.session) to its claims; other requests get the
 * service's own 401 (with X-Session-Terminated-Reason for an ended
 * session) or 503, in its Strapi-style error shape.
 *
 *   app.use("/api", requireSession(verifier));
 *   app.get("/api/me", (req, res) => res.json({ user: req.auth!.sub }));
 */
export function requireSession(verifier: SessionVerifier, options: RequireSessionOptions = {}) {
  return function sessionMiddleware(req: IncomingMessage & { auth?: SessionClaims }, res: ServerResponse & { locals?: Record<string, unknown> }, next: Next): void {
    const header = req.headers["authorization"];
    const token = bearerToken(Array.isArray(header) ? header[0] : header);
    if (!token) {
      if (options.optional && header === undefined) return next();
      return send(res, missingToken());
    }
    verifier.verify(token).then(
      (claims) => {
        req.auth = claims;
        if (res.locals) res.locals["session"] = claims;
        next();
      },
      (err: unknown) => send(res, err),
    );
  };
}

function send(res: ServerResponse, err: unknown): void {
  const a = errorAnswer(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = a.status;
  for (const [k, v] of Object.entries(a.headers)) res.setHeader(k, v);
  res.end(a.body);
}
