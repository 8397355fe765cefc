package sessionmanager

import (
	"context"
	"sync"
	"time"
)

// Memory bounds of the in-process counter.
const (
	memoryCounterMaxKeys = 100_000
	memoryCounterSweep   = time.Minute
)

// MemoryCounter is the in-process Counter with fixed windows: the default
// Failures of a single instance. Expired entries are swept at most once a
// minute (sooner when full); past its key bound an arbitrary key is
// dropped, so memory stays bounded under a flood of made-up names.
type MemoryCounter struct {
	clock   Clock
	maxKeys int
	// refuseFull makes a full counter refuse a new key (EUNAVAILABLE)
	// instead of dropping one: the DPoP replay store, where a dropped jti
	// could be replayed.
	refuseFull bool
	mu         sync.Mutex
	m          map[string]memoryCount
	lastSweep  time.Time
}

type memoryCount struct {
	n       int64
	expires time.Time
}

var _ Counter = (*MemoryCounter)(nil)

// NewMemoryCounter returns an in-process Counter on clock (nil:
// SystemClock).
func NewMemoryCounter(clock Clock) *MemoryCounter {
	if clock == nil {
		clock = SystemClock{}
	}
	return &MemoryCounter{clock: clock, maxKeys: memoryCounterMaxKeys, m: make(map[string]memoryCount)}
}

// newReplayCounter is the in-process store of spent DPoP jtis: apart from
// Failures, so a stream of fresh proofs never evicts login-failure counts
// or used TOTP codes, and refusing new proofs while full of live jtis
// rather than forgetting one (which would allow its replay).
func newReplayCounter(clock Clock, maxKeys int) *MemoryCounter {
	c := NewMemoryCounter(clock)
	c.maxKeys, c.refuseFull = maxKeys, true
	return c
}

// Incr adds one to key; a new window starts at the first increment after
// the previous one expired.
func (c *MemoryCounter) Incr(_ context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, Errorf(EINVALID, "counter: window must be positive")
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	v, ok := c.m[key]
	if !ok || !now.Before(v.expires) {
		if !c.makeRoom(key) {
			return 0, Errorf(EUNAVAILABLE, "counter: full")
		}
		v = memoryCount{expires: now.Add(window)}
	}
	v.n++
	c.m[key] = v
	return v.n, nil
}

// sweep deletes expired keys, when a sweep is due or the map is full.
func (c *MemoryCounter) sweep(now time.Time) {
	if now.Sub(c.lastSweep) < memoryCounterSweep && len(c.m) < c.maxKeys {
		return
	}
	c.lastSweep = now
	for k, v := range c.m {
		if !now.Before(v.expires) {
			delete(c.m, k)
		}
	}
}

// makeRoom drops an arbitrary key when adding key would pass maxKeys
// (false, dropping nothing, when the counter refuses when full).
func (c *MemoryCounter) makeRoom(key string) bool {
	if _, ok := c.m[key]; ok || len(c.m) < c.maxKeys {
		return true
	}
	if c.refuseFull {
		return false
	}
	for k := range c.m {
		delete(c.m, k)
		return true
	}
	return true
}

// Get returns key's count in its current window (0 when none).
func (c *MemoryCounter) Get(_ context.Context, key string) (int64, error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[key]
	if !now.Before(v.expires) {
		return 0, nil
	}
	return v.n, nil
}

// Decr takes one back from key's live count, never below zero, when its
// window ends within left.
func (c *MemoryCounter) Decr(_ context.Context, key string, left time.Duration) error {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok && now.Before(v.expires) && v.expires.Sub(now) <= left && v.n > 0 {
		v.n--
		c.m[key] = v
	}
	return nil
}

// Reset forgets key.
func (c *MemoryCounter) Reset(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
	return nil
}
