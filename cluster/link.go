package cluster

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// link tracks the health of one connection that reconnects by itself and
// calls the OnReconnect hooks when it comes back, since messages may have
// been lost during the gap.
type link struct {
	healthy atomic.Bool
	mu      sync.Mutex
	lastErr error
	hooks   []func()
}

func (l *link) up() { l.healthy.Store(true) }

// fail records err and marks the link unhealthy.
func (l *link) fail(err error) {
	l.mu.Lock()
	l.lastErr = err
	l.mu.Unlock()
	l.healthy.Store(false)
}

// reconnected marks the link healthy and runs the hooks.
func (l *link) reconnected() {
	l.healthy.Store(true)
	l.mu.Lock()
	hooks := append([]func(){}, l.hooks...)
	l.mu.Unlock()
	for _, h := range hooks {
		h()
	}
}

// Healthy reports whether the link is connected and listening.
func (l *link) Healthy() bool { return l.healthy.Load() }

// LastError returns the last connection error seen (nil if none yet).
func (l *link) LastError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}

// OnReconnect registers fn to run each time the link is re-established
// after a failure, so caches can be dropped: messages may have been lost.
func (l *link) OnReconnect(fn func()) {
	l.mu.Lock()
	l.hooks = append(l.hooks, fn)
	l.mu.Unlock()
}

// backoff doubles d up to max.
func backoff(d, max time.Duration) time.Duration {
	d *= 2
	if d > max {
		return max
	}
	return d
}

// sleepCtx waits d or until ctx is done; false when ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// orDiscard returns logger, or a logger that drops everything when nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
