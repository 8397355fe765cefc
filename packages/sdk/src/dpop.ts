// DPoP (RFC 9449): tokens bound to a key that never leaves this client.
// The key pair is made with WebCrypto as non-extractable: script can sign
// with it but never read the private key, so a stolen access or refresh
// token is useless without the device that holds the key.

import { idbRunner, inProcessLocks, type LockManagerLike } from "./storage.js";

// WebCrypto alone (no library): the client module loads in a browser as it
// is, and ECDSA P-256 signatures come out as JWS wants them (r || s).

/** The public key as a JWK: the members of an EC P-256 key. */
interface PublicJWK {
  kty: string;
  crv: string;
  x: string;
  y: string;
}

/** Where a client keeps its DPoP key pair (CryptoKey objects, not strings). */
export interface DPoPKeyStore {
  get(): Promise<CryptoKeyPair | null>;
  set(keys: CryptoKeyPair): Promise<void>;
  remove(): Promise<void>;
}

/** A key store in memory: the key lives as long as this process or page. */
export function memoryKeyStore(): DPoPKeyStore {
  let keys: CryptoKeyPair | null = null;
  return {
    get: async () => keys,
    set: async (k) => void (keys = k),
    remove: async () => void (keys = null),
  };
}

/**
 * A key store in IndexedDB: CryptoKey objects are stored by structured
 * clone, so a non-extractable key stays non-extractable and every tab of
 * the origin signs with the same key.
 */
export function indexedDBKeyStore(name = "msm.dpop", dbName = "msm-dpop", factory: IDBFactory = globalThis.indexedDB): DPoPKeyStore {
  if (!factory) throw new TypeError("indexedDBKeyStore: no IndexedDB here (use memoryKeyStore)");
  const run = idbRunner(dbName, "keys", factory);
  return {
    get: async () => ((await run<unknown>("readonly", (s) => s.get(name))) as CryptoKeyPair | undefined) ?? null,
    set: async (k) => void (await run("readwrite", (s) => s.put(k, name))),
    remove: async () => void (await run("readwrite", (s) => s.delete(name))),
  };
}

/** IndexedDB in browsers, else memory (Node: one key per process). */
export function defaultKeyStore(): DPoPKeyStore {
  return (globalThis as { indexedDB?: IDBFactory }).indexedDB ? indexedDBKeyStore() : memoryKeyStore();
}

const utf8 = new TextEncoder();

function b64urlText(text: string): string {
  return b64url(utf8.encode(text));
}

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** ath: base64url(SHA-256(access token)). */
async function accessTokenHash(token: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(token))));
}

/** The RFC 7638 thumbprint: SHA-256 of the required members, in order, without spaces. */
async function thumbprintOf(jwk: PublicJWK): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(canonical))));
}

/** The htu of a URL: absolute, without query and fragment. */
export function proofURL(url: string | URL, base?: string): string {
  const u = new URL(url, base ?? (globalThis as { location?: { href: string } }).location?.href);
  u.search = "";
  u.hash = "";
  return u.href;
}

/**
 * A DPoP signer: one ES256 key pair, made on first use (non-extractable)
 * and kept in a DPoPKeyStore.
 */
export class DPoPSigner {
  readonly #store: DPoPKeyStore;
  readonly #locks: LockManagerLike;
  #keys?: Promise<{ pair: CryptoKeyPair; jwk: PublicJWK; thumbprint: string }>;

  /**
   * locks (navigator.locks in a browser) make the first key once for every
   * tab sharing the store: two tabs starting together sign with one key.
   */
  constructor(store: DPoPKeyStore = defaultKeyStore(), locks: LockManagerLike = inProcessLocks) {
    this.#store = store;
    this.#locks = locks;
  }

  #load() {
    return (this.#keys ??= (async () => {
      const pair = await this.#locks.request("msm.dpop-key", async () => {
        const stored = await this.#store.get();
        if (stored) return stored;
        const made = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
        await this.#store.set(made);
        return made;
      });
      const full = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as PublicJWK;
      const jwk: PublicJWK = { kty: full.kty, crv: full.crv, x: full.x, y: full.y };
      return { pair, jwk, thumbprint: await thumbprintOf(jwk) };
    })().catch((err) => {
      this.#keys = undefined;
      throw err;
    }));
  }

  /** The RFC 7638 thumbprint of the public key (the tokens' cnf.jkt). */
  async thumbprint(): Promise<string> {
    return (await this.#load()).thumbprint;
  }

  /** A proof for one request (method, absolute URL), naming accessToken when given. */
  async proof(method: string, url: string, accessToken?: string): Promise<string> {
    const { pair, jwk } = await this.#load();
    const claims: Record<string, string | number> = {
      jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
      htm: method.toUpperCase(),
      htu: proofURL(url),
      iat: Math.floor(Date.now() / 1000),
    };
    if (accessToken) claims["ath"] = await accessTokenHash(accessToken);
    const input = b64urlText(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk })) + "." + b64urlText(JSON.stringify(claims));
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, utf8.encode(input));
    return input + "." + b64url(new Uint8Array(signature));
  }

  /** Forgets the key (a new one is made on next use); bound sessions then cannot refresh. */
  async reset(): Promise<void> {
    this.#keys = undefined;
    await this.#store.remove();
  }
}
