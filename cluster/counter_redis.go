package cluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// incrScript increments and starts the window at the first increment; a
// key left without a TTL (by anything) gets one too, so none lives forever.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`)

// decrScript takes one back from a live positive count whose window ends
// within ARGV[1] ms; an absent key stays absent (DECR would create it at
// -1, without a TTL).
var decrScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 and redis.call('PTTL', KEYS[1]) <= tonumber(ARGV[1]) then
  return redis.call('DECR', KEYS[1])
end
return 0`)

// RedisCounter counts in fixed windows shared by every instance.
type RedisCounter struct {
	client redis.UniversalClient
	prefix string
}

var _ sm.Counter = (*RedisCounter)(nil)

// NewRedisCounter returns a Counter keeping its keys under prefix.
func NewRedisCounter(client redis.UniversalClient, prefix string) *RedisCounter {
	return &RedisCounter{client: client, prefix: prefix + "count:"}
}

// Incr adds one to key atomically and returns the new count.
func (c *RedisCounter) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if window < time.Millisecond {
		return 0, sm.Errorf(sm.EINVALID, "counter: window must be at least 1ms")
	}
	n, err := incrScript.Run(ctx, c.client, []string{c.prefix + key}, window.Milliseconds()).Int64()
	if err != nil {
		return 0, sm.WrapError(sm.EUNAVAILABLE, "redis counter: incr", err)
	}
	return n, nil
}

// Get returns key's count in its current window (0 when none).
func (c *RedisCounter) Get(ctx context.Context, key string) (int64, error) {
	n, err := c.client.Get(ctx, c.prefix+key).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, sm.WrapError(sm.EUNAVAILABLE, "redis counter: get", err)
	}
	return n, nil
}

// Decr takes one back from key's live count atomically, never below zero,
// when its window (TTL) ends within left; the window is left as it is.
func (c *RedisCounter) Decr(ctx context.Context, key string, left time.Duration) error {
	if left <= 0 {
		return nil
	}
	ms := (left + time.Millisecond - 1) / time.Millisecond // PTTL is whole milliseconds
	if err := decrScript.Run(ctx, c.client, []string{c.prefix + key}, int64(ms)).Err(); err != nil {
		return sm.WrapError(sm.EUNAVAILABLE, "redis counter: decr", err)
	}
	return nil
}

// Reset forgets key.
func (c *RedisCounter) Reset(ctx context.Context, key string) error {
	if err := c.client.Del(ctx, c.prefix+key).Err(); err != nil {
		return sm.WrapError(sm.EUNAVAILABLE, "redis counter: reset", err)
	}
	return nil
}
