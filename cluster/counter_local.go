package cluster

import (
	"context"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Memory bounds of the in-process counter and limiter.
const (
	defaultMaxKeys = 100_000
	sweepEvery     = time.Minute
)

// LocalCounter counts in fixed windows in memory, for a single instance.
// Expired entries are swept at most once a minute; past maxKeys live keys an
// arbitrary one is dropped, so memory stays bounded under a flood of keys.
type LocalCounter struct {
	now     func() time.Time
	bound   keyBound
	mu      sync.Mutex
	entries map[string]counterEntry
}

type counterEntry struct {
	count   int64
	expires time.Time
}

var _ sm.Counter = (*LocalCounter)(nil)

// NewLocalCounter returns an in-memory Counter; now nil means time.Now.
func NewLocalCounter(now func() time.Time) *LocalCounter {
	if now == nil {
		now = time.Now
	}
	return &LocalCounter{now: now, bound: keyBound{maxKeys: defaultMaxKeys}, entries: map[string]counterEntry{}}
}

// Incr adds one to key; a new window starts at the first increment after
// the previous one expired.
func (c *LocalCounter) Incr(_ context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, sm.Errorf(sm.EINVALID, "counter: window must be positive")
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	sweepMap(&c.bound, c.entries, now, func(e counterEntry) bool { return !now.Before(e.expires) })
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		makeRoom(&c.bound, c.entries, key)
		e = counterEntry{expires: now.Add(window)}
	}
	e.count++
	c.entries[key] = e
	return e.count, nil
}

// Get returns key's count in its current window (0 when none).
func (c *LocalCounter) Get(_ context.Context, key string) (int64, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		return 0, nil
	}
	return e.count, nil
}

// Decr takes one back from key's live count, never below zero.
func (c *LocalCounter) Decr(_ context.Context, key string) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) && e.count > 0 {
		e.count--
		c.entries[key] = e
	}
	return nil
}

// Reset forgets key.
func (c *LocalCounter) Reset(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
	return nil
}

// Len returns how many keys are held, expired ones not yet swept included.
func (c *LocalCounter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
