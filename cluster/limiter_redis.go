package cluster

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// RedisLimiter limits across every instance with redis_rate's GCRA (one
// atomic script per call).
type RedisLimiter struct {
	limiter *redis_rate.Limiter
	prefix  string
}

var _ Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns a shared Limiter keeping its keys under prefix.
func NewRedisLimiter(client *redis.Client, prefix string) *RedisLimiter {
	return &RedisLimiter{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow takes one token from key's shared bucket.
func (l *RedisLimiter) Allow(ctx context.Context, key string, perMinute int) (bool, time.Duration, error) {
	if perMinute <= 0 {
		return false, 0, sm.Errorf(sm.EINVALID, "limiter: perMinute must be positive")
	}
	res, err := l.limiter.Allow(ctx, l.prefix+key, redis_rate.PerMinute(perMinute))
	if err != nil {
		return false, 0, sm.WrapError(sm.EUNAVAILABLE, "redis limiter", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}
