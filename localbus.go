package sessionmanager

import (
	"context"
	"sync"
	"time"
)

// LocalBus is the in-process Bus of a single instance.
type LocalBus struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(Message)
}

// NewLocalBus returns an in-process bus.
func NewLocalBus() *LocalBus { return &LocalBus{subs: make(map[int]func(Message))} }

// Publish calls every subscriber synchronously, in this goroutine.
func (b *LocalBus) Publish(_ context.Context, m Message) error {
	b.mu.RLock()
	fns := make([]func(Message), 0, len(b.subs))
	for _, fn := range b.subs {
		fns = append(fns, fn)
	}
	b.mu.RUnlock()
	for _, fn := range fns {
		fn(m)
	}
	return nil
}

// Subscribe registers fn until the returned function is called.
func (b *LocalBus) Subscribe(fn func(Message)) func() {
	b.mu.Lock()
	id := b.next
	b.next++
	b.subs[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

// MemoryCounter is an in-process Counter with fixed windows.
type MemoryCounter struct {
	clock Clock
	mu    sync.Mutex
	m     map[string]memoryCount
	ops   int
}

type memoryCount struct {
	n       int64
	expires time.Time
}

// NewMemoryCounter returns an in-process Counter.
func NewMemoryCounter(clock Clock) *MemoryCounter {
	return &MemoryCounter{clock: clock, m: make(map[string]memoryCount)}
}

// Incr adds one to key in its current window.
func (c *MemoryCounter) Incr(_ context.Context, key string, window time.Duration) (int64, error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops++
	if c.ops%1024 == 0 {
		for k, v := range c.m {
			if !now.Before(v.expires) {
				delete(c.m, k)
			}
		}
	}
	v := c.m[key]
	if !now.Before(v.expires) {
		v = memoryCount{expires: now.Add(window)}
	}
	v.n++
	c.m[key] = v
	return v.n, nil
}

// Get returns key's count in its current window.
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

// Decr takes one back from key's live count, never below zero.
func (c *MemoryCounter) Decr(_ context.Context, key string) error {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok && now.Before(v.expires) && v.n > 0 {
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
