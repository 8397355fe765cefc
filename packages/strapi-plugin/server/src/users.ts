/**
 * UserMap remembers which Strapi user each of the service's users is: the
 * service's access token names its own user id (sub); Strapi wants its
 * users-permissions user id. The pair is written when a sign-in is handed
 * over and kept in Strapi's core store (one row per user, shared by every
 * Strapi instance on the database), with a bounded in-memory cache in
 * front, so verifying a request costs no call to the service.
 *
 * Strapi users are named by documentId (random, never reused); the numeric
 * id Strapi's auth strategy wants is looked up from it, so a deleted user's
 * tokens map to nobody even if the id is reused.
 */

/** The part of Strapi's core store the map uses. */
export interface KeyValueStore {
  get(p: { key: string }): Promise<unknown>;
  set(p: { key: string; value: unknown }): Promise<unknown>;
}

/** Finds a users-permissions user's numeric id by documentId (null: no such user). */
export type FindUserId = (documentId: string) => Promise<number | null>;

const maxCached = 10_000;
/** How long a resolved numeric id is trusted before it is looked up again. */
const idTTL = 60_000;

interface Entry {
  documentId: string;
  id?: number;
  checkedAt?: number;
}

/** How long a challenge is remembered when its answer names no expiry. */
const challengeTTL = 15 * 60_000;

export class UserMap {
  private readonly cache = new Map<string, Entry>();
  /** Pending challenges of sign-ins (challenge id -> documentId and expiry), in memory. */
  private readonly challenges = new Map<string, { documentId: string; until: number }>();
  /** Writes under way, so concurrent sign-ins of one user write its row once. */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(private readonly store: KeyValueStore, private readonly findUserId: FindUserId, private readonly now: () => number = Date.now) {}

  /** remember records that the service's user serviceUserId is Strapi's documentId. */
  async remember(serviceUserId: string, documentId: string): Promise<void> {
    for (;;) {
      if (this.cache.get(serviceUserId)?.documentId === documentId) return;
      const pending = this.writing.get(serviceUserId);
      if (!pending) break;
      await pending.catch(() => {});
    }
    const write = (async () => {
      const key = storeKey(serviceUserId);
      if ((await this.store.get({ key })) !== documentId) {
        await this.store.set({ key, value: documentId });
      }
      this.put(serviceUserId, { documentId });
    })();
    this.writing.set(serviceUserId, write);
    try {
      await write;
    } finally {
      this.writing.delete(serviceUserId);
    }
  }

  /** documentId is the Strapi user of a service user, or null. */
  async documentId(serviceUserId: string): Promise<string | null> {
    return (await this.entry(serviceUserId))?.documentId ?? null;
  }

  /** strapiId is the numeric users-permissions id of a service user, or null. */
  async strapiId(serviceUserId: string): Promise<number | null> {
    const e = await this.entry(serviceUserId);
    if (!e) return null;
    const t = this.now();
    if (e.id === undefined || e.checkedAt === undefined || t - e.checkedAt > idTTL) {
      const id = await this.findUserId(e.documentId);
      if (id === null) {
        this.cache.delete(serviceUserId);
        return null;
      }
      e.id = id;
      e.checkedAt = t;
    }
    return e.id;
  }

  /**
   * rememberChallenge notes the Strapi user of a challenged sign-in (401
   * challenge_required): a user whose very first sign-in is challenged has
   * no pair yet when the challenge is verified. Kept in this process until
   * the challenge expires (bounded).
   */
  rememberChallenge(challengeId: string, documentId: string, expiresAt?: string): void {
    const t = this.now();
    for (const [id, c] of this.challenges) if (c.until <= t) this.challenges.delete(id);
    if (this.challenges.size >= maxCached) {
      const oldest = this.challenges.keys().next().value;
      if (oldest !== undefined) this.challenges.delete(oldest);
    }
    const at = expiresAt ? Date.parse(expiresAt) : NaN;
    this.challenges.set(challengeId, { documentId, until: Number.isFinite(at) ? Math.min(at, t + challengeTTL) : t + challengeTTL });
  }

  /** challengeUser is the Strapi user of a pending challenge (and forgets it), or null. */
  challengeUser(challengeId: string): string | null {
    const c = this.challenges.get(challengeId);
    this.challenges.delete(challengeId);
    return c && c.until > this.now() ? c.documentId : null;
  }

  private async entry(serviceUserId: string): Promise<Entry | null> {
    const hit = this.cache.get(serviceUserId);
    if (hit) return hit;
    const v = await this.store.get({ key: storeKey(serviceUserId) });
    if (typeof v !== 'string' || v === '') return null;
    const e: Entry = { documentId: v };
    this.put(serviceUserId, e);
    return e;
  }

  private put(k: string, e: Entry): void {
    this.cache.delete(k);
    if (this.cache.size >= maxCached) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(k, e);
  }
}

function storeKey(serviceUserId: string): string {
  return `user_${serviceUserId}`;
}
