package sessionmanager

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// profileCache keeps the username an introspection answer carries (its
// email comes with the cached session state, Principal.Email) for as long
// as a session state is cached (StateCacheTTL),
// so token introspection no longer reads the user from the store on every
// call: at most once per user per TTL on each instance. A change of username
// shows within that TTL, as a change of the email in the state cache does. It is bounded: a full shard is emptied before it grows past
// profileShardMax, so a flood of distinct users costs store reads, not memory.
type profileCache struct {
	seed   maphash.Seed
	ttl    time.Duration
	shards [16]profileShard
}

const profileShardMax = 4096

type profileShard struct {
	mu sync.RWMutex
	m  map[string]profileEntry
}

type profileEntry struct {
	username string
	fetched  time.Time
}

func newProfileCache(ttl time.Duration) *profileCache {
	c := &profileCache{seed: maphash.MakeSeed(), ttl: ttl}
	for i := range c.shards {
		c.shards[i].m = make(map[string]profileEntry)
	}
	return c
}

func (c *profileCache) shard(id string) *profileShard {
	return &c.shards[maphash.String(c.seed, id)%uint64(len(c.shards))]
}

func (c *profileCache) get(id string, now time.Time) (profileEntry, bool) {
	s := c.shard(id)
	s.mu.RLock()
	e, ok := s.m[id]
	s.mu.RUnlock()
	return e, ok && now.Sub(e.fetched) < c.ttl && !e.fetched.After(now)
}

func (c *profileCache) put(id string, e profileEntry) {
	s := c.shard(id)
	s.mu.Lock()
	if _, ok := s.m[id]; !ok && len(s.m) >= profileShardMax {
		clear(s.m)
	}
	s.m[id] = e
	s.mu.Unlock()
}

func (c *profileCache) forget(id string) {
	s := c.shard(id)
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// Username returns a user's username for answers about a token
// (introspection), from a cache at most StateCacheTTL old; a user who no
// longer exists is ENOTFOUND.
func (m *Manager) Username(ctx context.Context, userID string) (string, error) {
	now := m.clock.Now()
	if e, ok := m.profiles.get(userID, now); ok {
		return e.username, nil
	}
	u, err := m.store.UserByID(ctx, userID)
	if err != nil {
		return "", err
	}
	m.profiles.put(userID, profileEntry{username: u.Username, fetched: now})
	return u.Username, nil
}
