import { SessionTerminatedError, type SessionClaims } from '@magic-sessionmanager/sdk/server';
import type { PluginConfig } from './config';
import { bearer, type Ctx } from './koa';
import type { UserMap } from './users';

/** What users-permissions' strategy wants from getToken: the user id (and session, refresh mode). */
export interface TokenPayload {
  id: number;
  sessionId?: string;
}

/** The verifier the plugin uses (the SDK's SessionVerifier). */
export interface Verifier {
  verify(token: string): Promise<SessionClaims>;
}

/** The users-permissions jwt service, as far as the plugin touches it. */
export interface JwtService {
  getToken(ctx: Ctx): Promise<unknown> | unknown;
  verify(token: string): Promise<unknown>;
  issue(payload: unknown, options?: unknown): unknown;
}

/**
 * isServiceToken reports whether token claims to be one of the service's
 * access tokens (EdDSA, typ at+jwt, or the service's issuer): those are
 * verified by the service's keys and feed, never by Strapi's secret.
 */
export function isServiceToken(token: string, issuer: string): boolean {
  const [h, p] = token.split('.');
  try {
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8'));
    if (header?.alg === 'EdDSA' || header?.typ === 'at+jwt') return true;
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8'));
    return payload?.iss === issuer;
  } catch {
    return false;
  }
}

/**
 * extendJwtService returns users-permissions' jwt service whose getToken
 * accepts the service's access tokens: verified offline against the
 * service's JWKS and refused at once when the revocation feed says the
 * session ended (no call to the service per request), then mapped to the
 * Strapi user they were handed over for. Strapi's own JWTs are refused
 * unless acceptStrapiTokens is set. Every refusal throws, which the
 * users-permissions strategy turns into 401; an ended session also gets
 * the X-Session-Terminated-Reason header.
 */
export function extendJwtService(original: JwtService, cfg: PluginConfig, verifier: Verifier, users: UserMap): JwtService {
  const ext: JwtService = {
    ...original,
    async getToken(ctx: Ctx) {
      const token = bearer(ctx);
      if (token === undefined) return null; // no or malformed header: the public role, as Strapi
      if (!isServiceToken(token, cfg.issuer)) {
        if (cfg.acceptStrapiTokens) return original.verify.call(ext, token);
        throw new Error('Invalid token.');
      }
      let claims: SessionClaims;
      try {
        claims = await verifier.verify(token);
      } catch (err) {
        if (err instanceof SessionTerminatedError) ctx.set('X-Session-Terminated-Reason', err.endReason);
        throw err;
      }
      const id = await users.strapiId(claims.sub);
      if (id === null) throw new Error('Invalid token.'); // a user of the service Strapi never handed over, or deleted since
      return { id, sessionId: claims.sid } satisfies TokenPayload;
    },
  };
  return ext;
}
