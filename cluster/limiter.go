package cluster

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Limiter is a token-bucket rate limiter per key: perMinute requests a
// minute, with bursts up to perMinute.
type Limiter interface {
	// Allow takes one token for key; when none is left, allowed=false and
	// retryAfter says when the next one comes.
	Allow(ctx context.Context, key string, perMinute int) (allowed bool, retryAfter time.Duration, err error)
}

// LocalLimiter limits in memory, for a single instance. A bucket idle for a
// minute is full again, so it is dropped without changing any answer; past
// maxKeys an arbitrary bucket is dropped to bound memory.
type LocalLimiter struct {
	now     func() time.Time
	bound   keyBound
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	limiter   *rate.Limiter
	perMinute int
	lastUsed  time.Time
}

var _ Limiter = (*LocalLimiter)(nil)

// NewLocalLimiter returns an in-memory Limiter; now nil means time.Now.
func NewLocalLimiter(now func() time.Time) *LocalLimiter {
	if now == nil {
		now = time.Now
	}
	return &LocalLimiter{now: now, bound: keyBound{maxKeys: defaultMaxKeys}, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket.
func (l *LocalLimiter) Allow(_ context.Context, key string, perMinute int) (bool, time.Duration, error) {
	if perMinute <= 0 {
		return false, 0, sm.Errorf(sm.EINVALID, "limiter: perMinute must be positive")
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// A bucket idle for a minute is full again: dropping it changes nothing.
	sweepMap(&l.bound, l.buckets, now, func(b *bucket) bool { return now.Sub(b.lastUsed) >= time.Minute })
	b := l.buckets[key]
	if b == nil || b.perMinute != perMinute {
		makeRoom(&l.bound, l.buckets, key)
		b = &bucket{limiter: rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute), perMinute: perMinute}
		l.buckets[key] = b
	}
	b.lastUsed = now
	r := b.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay, nil
	}
	return true, 0, nil
}

// Len returns how many buckets are held.
func (l *LocalLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
