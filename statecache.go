package sessionmanager

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// sessionState is what the hot path needs to know about a session.
type sessionState struct {
	userID    string
	email     string
	status    Status
	reason    EndReason
	expiresAt time.Time
	// fetched is when the state was read from the store; a state older than
	// the cache TTL is read again, which bounds the cost of a lost bus message.
	fetched time.Time
	// ip and ua (a hash of the user agent, 0 = not known) are the client
	// the session was last judged from (session protection's fingerprint).
	ip netip.Addr
	ua uint64
}

const stateShards = 64

// stateCache maps session ids to their state, sharded to keep lock
// contention low on the hot path.
type stateCache struct {
	seed   maphash.Seed
	ttl    time.Duration
	shards [stateShards]stateShard
}

type stateShard struct {
	mu sync.RWMutex
	m  map[string]sessionState
}

func newStateCache(ttl time.Duration) *stateCache {
	c := &stateCache{seed: maphash.MakeSeed(), ttl: ttl}
	for i := range c.shards {
		c.shards[i].m = make(map[string]sessionState)
	}
	return c
}

func (c *stateCache) shard(sid string) *stateShard {
	return &c.shards[maphash.String(c.seed, sid)%stateShards]
}

// get returns the cached state when it is fresh enough at now. Ended states
// never go stale: an ended session cannot come back.
func (c *stateCache) get(sid string, now time.Time) (sessionState, bool) {
	sh := c.shard(sid)
	sh.mu.RLock()
	st, ok := sh.m[sid]
	sh.mu.RUnlock()
	if !ok {
		return st, false
	}
	if st.status != StatusEnded && now.Sub(st.fetched) > c.ttl {
		return st, false
	}
	return st, true
}

// put caches a state read from the store, unless the session is already
// known ended: a read that raced a force logout must not bring it back.
func (c *stateCache) put(sid string, st sessionState) {
	sh := c.shard(sid)
	sh.mu.Lock()
	if cur, ok := sh.m[sid]; !ok || cur.status != StatusEnded {
		sh.m[sid] = st
	}
	sh.mu.Unlock()
}

// setFingerprint records the client a cached session was last judged
// from; a session not cached is left alone (its next read takes the
// store's record).
func (c *stateCache) setFingerprint(sid string, ip netip.Addr, ua uint64) {
	sh := c.shard(sid)
	sh.mu.Lock()
	if st, ok := sh.m[sid]; ok {
		st.ip, st.ua = ip, ua
		sh.m[sid] = st
	}
	sh.mu.Unlock()
}

// markEnded records that a session ended, whether or not it was cached.
func (c *stateCache) markEnded(sid, userID string, reason EndReason, now time.Time) {
	sh := c.shard(sid)
	sh.mu.Lock()
	st := sh.m[sid]
	st.status, st.reason, st.fetched = StatusEnded, reason, now
	if userID != "" {
		st.userID = userID
	}
	sh.m[sid] = st
	sh.mu.Unlock()
}

// drop forgets a session's state so the next request reads the store.
func (c *stateCache) drop(sid string) {
	sh := c.shard(sid)
	sh.mu.Lock()
	delete(sh.m, sid)
	sh.mu.Unlock()
}

// dropAll forgets everything (after a bus reconnect, messages may be lost).
func (c *stateCache) dropAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// prune removes entries not refreshed since before; ended entries are kept
// for as long as their access tokens could live (until before-TTL window).
func (c *stateCache) prune(before time.Time) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, st := range sh.m {
			if st.fetched.Before(before) {
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}
