package cluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// RedisActivity is the shared last-seen buffer: every instance writes its
// notes into one sorted set (member = session id, score = last seen in unix
// microseconds, which a float64 holds exactly), ZADD GT keeping the latest
// per session; the leader drains it into the store.
type RedisActivity struct {
	client redis.UniversalClient
	key    string
}

var _ sm.ActivitySink = (*RedisActivity)(nil)

// NewRedisActivity returns the buffer kept at prefix+"lastseen".
func NewRedisActivity(client redis.UniversalClient, prefix string) *RedisActivity {
	return &RedisActivity{client: client, key: prefix + "lastseen"}
}

// WriteLastSeen records the notes in one command; an older note never
// lowers a newer one.
func (a *RedisActivity) WriteLastSeen(ctx context.Context, notes []sm.LastSeen) error {
	if len(notes) == 0 {
		return nil
	}
	members := make([]redis.Z, 0, len(notes))
	for _, n := range notes {
		if n.SessionID == "" {
			continue
		}
		members = append(members, redis.Z{Score: float64(n.At.UnixMicro()), Member: n.SessionID})
	}
	if len(members) == 0 {
		return nil
	}
	if err := a.client.ZAddGT(ctx, a.key, members...).Err(); err != nil {
		return sm.WrapError(sm.EUNAVAILABLE, "redis activity: write last-seen", err)
	}
	return nil
}

// Drain atomically takes up to max notes out of the buffer (oldest first),
// so each note goes to exactly one caller.
func (a *RedisActivity) Drain(ctx context.Context, max int) ([]sm.LastSeen, error) {
	if max <= 0 {
		return nil, nil
	}
	zs, err := a.client.ZPopMin(ctx, a.key, int64(max)).Result()
	if err != nil {
		return nil, sm.WrapError(sm.EUNAVAILABLE, "redis activity: drain", err)
	}
	notes := make([]sm.LastSeen, 0, len(zs))
	for _, z := range zs {
		sid, ok := z.Member.(string)
		if !ok {
			continue
		}
		notes = append(notes, sm.LastSeen{SessionID: sid, At: time.UnixMicro(int64(z.Score)).UTC()})
	}
	return notes, nil
}

// Get returns the buffered last-seen of a session, not yet moved to the
// store; found=false when there is none.
func (a *RedisActivity) Get(ctx context.Context, sid string) (at time.Time, found bool, err error) {
	score, err := a.client.ZScore(ctx, a.key, sid).Result()
	if err == redis.Nil {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, sm.WrapError(sm.EUNAVAILABLE, "redis activity: get", err)
	}
	return time.UnixMicro(int64(score)).UTC(), true, nil
}
