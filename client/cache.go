package client

import (
	"sync"
	"time"
)

// claimsCache remembers verified tokens until they expire. Only tokens
// that passed every check get in, so forged ones cannot fill it; when full
// it starts over (a cheap bound, no LRU bookkeeping on the hot path).
type claimsCache struct {
	mu     sync.RWMutex
	max    int
	leeway time.Duration
	m      map[string]Claims
}

func newClaimsCache(max int, leeway time.Duration) *claimsCache {
	return &claimsCache{max: max, leeway: leeway, m: make(map[string]Claims)}
}

func (c *claimsCache) get(token string, now time.Time) (Claims, bool) {
	c.mu.RLock()
	cl, ok := c.m[token]
	c.mu.RUnlock()
	if !ok || now.After(cl.ExpiresAt.Add(c.leeway)) {
		return Claims{}, false
	}
	return cl, true
}

func (c *claimsCache) put(token string, cl Claims) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[string]Claims)
	}
	c.m[token] = cl
	c.mu.Unlock()
}
