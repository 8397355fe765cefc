package token

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// cacheShards spreads the verified-token cache over independent locks so
// concurrent requests rarely contend.
const cacheShards = 32

// verifiedCache maps a verified token to its claims until the token's exp.
// Only tokens that passed Verify enter it. It is bounded: a full shard first
// drops expired entries, then arbitrary ones down to three quarters.
type verifiedCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[string]sm.AccessClaims
}

func newVerifiedCache(size int) *verifiedCache {
	c := &verifiedCache{seed: maphash.MakeSeed(), perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]sm.AccessClaims)
	}
	return c
}

func (c *verifiedCache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token)%cacheShards]
}

// get returns the claims of token if it is cached and not expired at now.
func (c *verifiedCache) get(token string, now time.Time) (sm.AccessClaims, bool) {
	s := c.shard(token)
	s.mu.RLock()
	claims, ok := s.entries[token]
	s.mu.RUnlock()
	if !ok || !now.Before(claims.ExpiresAt) {
		return sm.AccessClaims{}, false
	}
	return claims, true
}

// put caches claims for token, evicting at now when the shard is full. The
// token is cloned: the caller's string may share a whole request's memory.
func (c *verifiedCache) put(token string, claims sm.AccessClaims, now time.Time) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= c.perShard {
		s.evict(now, c.perShard*3/4)
	}
	s.entries[strings.Clone(token)] = claims
}

// evict drops expired entries and then, if still above keep, arbitrary
// ones (map order is random) so that eviction cost is amortised.
func (s *cacheShard) evict(now time.Time, keep int) {
	for token, claims := range s.entries {
		if !now.Before(claims.ExpiresAt) {
			delete(s.entries, token)
		}
	}
	for token := range s.entries {
		if len(s.entries) <= keep {
			return
		}
		delete(s.entries, token)
	}
}

// dropKeysNotIn removes the tokens signed by keys that are no longer in
// keys, so a key withdrawn from the store stops verifying at once, cached
// tokens included.
func (c *verifiedCache) dropKeysNotIn(keys map[string]*verifyKey) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for token, claims := range s.entries {
			if _, ok := keys[claims.KeyID]; !ok {
				delete(s.entries, token)
			}
		}
		s.mu.Unlock()
	}
}
