package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// acquireScript takes the lock and, only if it did, bumps the fencing
// counter, in one atomic step.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0`)

// renewScript extends the lock only while it still holds our token.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes the lock only while it still holds our token.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// RedisElector elects with a Redis lock (SET NX PX with a random token) and
// a fencing counter (INCR) under prefix. A leader that stops renewing loses
// the lock after its TTL.
type RedisElector struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisElector returns an Elector keeping its keys under prefix.
func NewRedisElector(client redis.UniversalClient, prefix string) *RedisElector {
	return &RedisElector{client: client, prefix: prefix}
}

// keys returns the lock and fencing keys; the hash tag keeps both in one
// slot of a Redis Cluster, as the script needs.
func (e *RedisElector) keys(name string) []string {
	tag := e.prefix + "leader:{" + name + "}"
	return []string{tag + ":lock", tag + ":fencing"}
}

// Elect tries once to take the lock of name for ttl.
func (e *RedisElector) Elect(ctx context.Context, name string, ttl time.Duration) (Lease, bool, error) {
	if ttl < time.Millisecond {
		return nil, false, sm.Errorf(sm.EINVALID, "redis leader: ttl must be at least 1ms")
	}
	keys := e.keys(name)
	token := randomID() + randomID()
	fencing, err := acquireScript.Run(ctx, e.client, keys, token, ttl.Milliseconds()).Int64()
	if err != nil {
		return nil, false, sm.WrapError(sm.EUNAVAILABLE, fmt.Sprintf("redis leader: elect %q", name), err)
	}
	if fencing == 0 {
		return nil, false, nil
	}
	return &redisLease{client: e.client, keys: keys, token: token, ttl: ttl, fencing: fencing}, true, nil
}

type redisLease struct {
	client  redis.UniversalClient
	keys    []string
	token   string
	ttl     time.Duration
	fencing int64
}

func (l *redisLease) Fencing() int64 { return l.fencing }

func (l *redisLease) Renew(ctx context.Context) error {
	n, err := renewScript.Run(ctx, l.client, l.keys[:1], l.token, l.ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("redis leader: renew: %w", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

func (l *redisLease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.client, l.keys[:1], l.token).Err(); err != nil {
		return fmt.Errorf("redis leader: release: %w", err)
	}
	return nil
}
