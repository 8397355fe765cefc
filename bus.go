package sessionmanager

import (
	"context"
	"time"
)

// Message kinds published on the Bus.
const (
	MsgSessionEnded    = "session.ended"
	MsgUserSessionsEnd = "user.sessions_ended"
	MsgSettingsChanged = "settings.changed"
	MsgSessionChanged  = "session.changed"
	// MsgSigningKeysChanged: a signing key was rotated; reload the keys.
	MsgSigningKeysChanged = "signing_keys.changed"
)

// Message tells every instance that something changed.
type Message struct {
	Kind      string    `json:"kind"`
	SessionID string    `json:"sid,omitempty"`
	UserID    string    `json:"uid,omitempty"`
	Reason    EndReason `json:"reason,omitempty"`
	// TokenID is the admin API token a MsgAdminTokenRevoked is about.
	TokenID string    `json:"tid,omitempty"`
	At      time.Time `json:"at"`
	// Origin is the publishing instance's id, so it can skip its own echo.
	Origin string `json:"origin,omitempty"`
}

// Bus carries Messages between instances: in process by default, Redis
// pub/sub or Postgres LISTEN/NOTIFY at scale. Delivery is best effort; the
// local caches' short TTL bounds the cost of a lost message.
type Bus interface {
	Publish(ctx context.Context, m Message) error
	// Subscribe calls fn for every message (including this instance's own)
	// until the returned function is called. fn runs on a goroutine of the
	// bus, never inside Publish or Subscribe, so a subscriber may hold its
	// own lock while it subscribes and take that lock in fn (the
	// dashboard's live hub does). LocalBus, and the Redis and Postgres buses
	// built on it, keep this contract; an implementation must too.
	Subscribe(fn func(Message)) (unsubscribe func())
}

// ActivitySink receives batches of last-seen notes off the request path: by
// default the store's TouchSessions, with Redis a shared buffer that one
// instance moves to the store.
type ActivitySink interface {
	WriteLastSeen(ctx context.Context, notes []LastSeen) error
}

// Counter counts events in fixed windows (failed logins, rate limits),
// shared across instances when backed by Redis.
type Counter interface {
	// Incr adds one to key's count and returns the new count; the count
	// expires window after its first increment.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	Get(ctx context.Context, key string) (int64, error)
	// Decr takes one back from key's live count (never below zero, window
	// unchanged; nothing when the key is absent): an attempt reserved with
	// Incr that turned out to be legitimate gives its reservation back. It
	// does so only when the window ends within left from now: the caller's
	// window, which started at or before its Incr, has at most the window
	// less the time since then to run, and a window started after it (the
	// caller's expired meanwhile) has more, so a late give-back does not
	// take a count from attempts of the next window.
	Decr(ctx context.Context, key string, left time.Duration) error
	Reset(ctx context.Context, key string) error
}
