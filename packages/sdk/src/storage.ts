// Where the client keeps its tokens, and how tabs take turns refreshing.

/** A key-value store for the signed-in state (sync or async). */
export interface TokenStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/** A storage in memory: one per process (Node, tests, a single tab). */
export function memoryStorage(): TokenStorage {
  const m = new Map<string, string>();
  return {
    get: (k) => m.get(k) ?? null,
    set: (k, v) => void m.set(k, v),
    remove: (k) => void m.delete(k),
  };
}

/**
 * A Web Storage (localStorage by default): shared by every tab of an
 * origin, but not coherent across them at once (see indexedDBStorage):
 * with it, two tabs that refresh together may rotate twice.
 */
export function webStorage(storage: Storage = globalThis.localStorage): TokenStorage {
  if (!storage) throw new TypeError("webStorage: no Web Storage here (pass one, or use memoryStorage)");
  return {
    get: (k) => storage.getItem(k),
    set: (k, v) => storage.setItem(k, v),
    remove: (k) => storage.removeItem(k),
  };
}

/**
 * IndexedDB (a store "kv" in database dbName): shared by every tab of an
 * origin and, unlike localStorage, coherent across them at once: a read
 * that starts after another tab's write committed sees it. Chromium's
 * localStorage is cached per renderer process and learns other tabs'
 * writes a moment later, so a tab that takes the refresh lock right after
 * another may still read the spent refresh token there.
 */
export function indexedDBStorage(dbName = "msm", factory: IDBFactory = globalThis.indexedDB): TokenStorage {
  if (!factory) throw new TypeError("indexedDBStorage: no IndexedDB here (use webStorage or memoryStorage)");
  const run = idbRunner(dbName, "kv", factory);
  return {
    get: async (k) => ((await run<unknown>("readonly", (s) => s.get(k))) as string | undefined) ?? null,
    set: async (k, v) => void (await run("readwrite", (s) => s.put(v, k))),
    remove: async (k) => void (await run("readwrite", (s) => s.delete(k))),
  };
}

/**
 * A runner of single-request transactions on one object store of an
 * IndexedDB database (made on first use), resolved on commit, not on the
 * request's success, so the next tab's read sees the write. Internal: the
 * token storage and the DPoP key store share it.
 */
export function idbRunner(dbName: string, storeName: string, factory: IDBFactory) {
  let db: Promise<IDBDatabase> | undefined;
  const open = () =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(dbName, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(storeName);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        db = undefined;
        reject(req.error);
      };
    }));
  return async <T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest): Promise<T> => {
    const tx = (await open()).transaction(storeName, mode, { durability: "strict" });
    const req = op(tx.objectStore(storeName));
    return new Promise<T>((resolve, reject) => {
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = tx.onabort = () => reject(tx.error ?? req.error);
    });
  };
}

/**
 * The part of the Web Locks API (navigator.locks) the client needs: run
 * callback while holding the exclusive lock called name.
 */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

const held = new Map<string, Promise<unknown>>();

/**
 * Exclusive locks within this JavaScript realm (where navigator.locks is
 * missing: Node, old browsers). Every client of the realm shares them;
 * they do not reach other tabs or processes.
 */
export const inProcessLocks: LockManagerLike = {
  request<T>(name: string, callback: () => Promise<T>): Promise<T> {
    const before = held.get(name) ?? Promise.resolve();
    const run = before.then(callback, callback);
    const tail = run.catch(() => undefined);
    held.set(name, tail);
    void tail.then(() => {
      if (held.get(name) === tail) held.delete(name);
    });
    return run;
  },
};

/** navigator.locks when the runtime has it (browsers, Deno), else inProcessLocks. */
export function defaultLocks(): LockManagerLike {
  const locks = (globalThis as { navigator?: { locks?: { request: (name: string, cb: () => Promise<unknown>) => Promise<unknown> } } })
    .navigator?.locks;
  if (locks && typeof locks.request === "function") {
    return { request: <T>(name: string, cb: () => Promise<T>) => locks.request(name, cb) as Promise<T> };
  }
  return inProcessLocks;
}

/** IndexedDB when the runtime has it (browsers), else localStorage, else memory. */
export function defaultStorage(): TokenStorage {
  if ((globalThis as { indexedDB?: IDBFactory }).indexedDB) return indexedDBStorage();
  try {
    const ls = (globalThis as { localStorage?: Storage }).localStorage;
    if (ls) {
      ls.getItem("msm.probe");
      return webStorage(ls);
    }
  } catch {
    // Blocked storage (privacy settings, sandboxed frames): memory.
  }
  return memoryStorage();
}
