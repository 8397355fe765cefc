package sessionmanager

import (
	"sync"
	"time"
)

// MsgAdminTokenRevoked tells every instance that an admin API token was
// revoked (Message.TokenID), so none keeps accepting it from its cache.
const MsgAdminTokenRevoked = "admin_token.revoked"

// adminTokenCache holds the admin API tokens checked recently, by lookup
// hash, for StateCacheTTL: a service calling token introspection or the
// admin API with one token no longer reads the store on every request (it
// was ~40% of an introspection's CPU on SQLite). A revocation is final at
// once on every instance: the revoking one marks the id here and the bus
// message marks it on the others; a lost message costs at most the TTL,
// as for a session. Only tokens that exist are cached, so a flood of wrong
// tokens costs store reads, not memory.
type adminTokenCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	byHash  map[string]adminTokenCached
	revoked map[string]time.Time
}

type adminTokenCached struct {
	t       AdminToken
	fetched time.Time
}

const adminTokenCacheMax = 4096

func newAdminTokenCache(ttl time.Duration) *adminTokenCache {
	return &adminTokenCache{ttl: ttl, byHash: map[string]adminTokenCached{}, revoked: map[string]time.Time{}}
}

// get returns a copy of the cached token when fresh at now and not revoked.
func (c *adminTokenCache) get(hash []byte, now time.Time) (*AdminToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[string(hash)]
	if !ok || now.Sub(e.fetched) >= c.ttl || e.fetched.After(now) {
		return nil, false
	}
	if _, gone := c.revoked[e.t.ID]; gone {
		return nil, false
	}
	t := e.t
	return &t, true
}

// put caches t (read from the store at now) unless it was revoked since.
func (c *adminTokenCache) put(t *AdminToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, gone := c.revoked[t.ID]; gone {
		return
	}
	if len(c.byHash) >= adminTokenCacheMax {
		for k, e := range c.byHash {
			if now.Sub(e.fetched) >= c.ttl {
				delete(c.byHash, k)
			}
		}
		if len(c.byHash) >= adminTokenCacheMax {
			clear(c.byHash)
		}
	}
	c.byHash[string(t.Hash)] = adminTokenCached{t: *t, fetched: now}
}

// used notes a use written to the store, so the next minute's uses skip it.
func (c *adminTokenCache) used(hash []byte, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byHash[string(hash)]; ok {
		e.t.LastUsedAt = at
		c.byHash[string(hash)] = e
	}
}

// markRevoked makes token id unusable from the cache from now on. The id
// is remembered for a minute past the TTL: any entry read before the
// revocation has expired by then, and a read after it finds no token.
func (c *adminTokenCache) markRevoked(id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, at := range c.revoked {
		if now.Sub(at) > c.ttl+time.Minute {
			delete(c.revoked, k)
		}
	}
	c.revoked[id] = now
	for k, e := range c.byHash {
		if e.t.ID == id {
			delete(c.byHash, k)
		}
	}
}

func (c *adminTokenCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byHash)
}
