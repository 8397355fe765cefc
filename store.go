package sessionmanager

import (
	"context"
	"time"
)

// UserStore keeps users. Email and username are unique (case-insensitive):
// a duplicate is ECONFLICT. A missing user is ENOTFOUND.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByIdentifier finds a user by email or username (case-insensitive).
	UserByIdentifier(ctx context.Context, identifier string) (*User, error)
	UserByExternalID(ctx context.Context, externalID string) (*User, error)
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)
	ListUsers(ctx context.Context, f UserFilter) (users []*User, nextCursor string, err error)
}

// TrailStore keeps where sessions have been (session protection). Notes
// come in batches from the activity flush, never one write per request.
type TrailStore interface {
	// AppendTrail appends each note's entry to its session's trail, keeps
	// the newest MaxTrail (and the newest challenge and terminate entries
	// beyond them), and sets Suspected/SuspectedAt when the note has
	// one. Notes for missing or ended sessions are skipped, not errors.
	AppendTrail(ctx context.Context, notes []TrailNote) error
}

// SessionStore keeps sessions and their refresh tokens. Atomicity lives in
// the store's SQL, never in Go locks.
type SessionStore interface {
	// CreateSession inserts s and its first refresh token hash.
	CreateSession(ctx context.Context, s *Session, refreshHash []byte) error
	SessionByID(ctx context.Context, id string) (*Session, error)
	// RefreshTokenByHash finds a current or replaced refresh token.
	RefreshTokenByHash(ctx context.Context, hash []byte) (*RefreshToken, error)
	// RotateRefreshToken replaces the current token OldHash with NewHash if
	// OldHash is still current and the session is not ended; otherwise
	// ECONFLICT. Of N concurrent calls with one OldHash exactly one wins.
	RotateRefreshToken(ctx context.Context, r RotateRefresh) error
	// EndSession ends a session that is not ended yet; ended=false when it
	// was already ended (or ENOTFOUND when it does not exist).
	EndSession(ctx context.Context, id string, reason EndReason, at time.Time) (ended bool, err error)
	// EndUserSessions ends all of a user's live sessions but exceptID.
	EndUserSessions(ctx context.Context, userID string, reason EndReason, at time.Time, exceptID string) ([]string, error)
	// EndDeviceSessions ends the user's live sessions whose DeviceID is
	// deviceID (never any when deviceID is empty) and returns their ids.
	EndDeviceSessions(ctx context.Context, userID, deviceID string, reason EndReason, at time.Time) ([]string, error)
	// TouchSessions raises last_seen to At (never lowers it) and makes
	// inactive sessions active again; ended sessions are not changed.
	TouchSessions(ctx context.Context, notes []LastSeen) error
	// SweepStale marks idle sessions inactive, ends idle ones (when
	// IdleBefore is set) and ends expired ones (ExpiresAt <= Now), each
	// step at most sw.Limit sessions when it is above zero.
	SweepStale(ctx context.Context, sw StaleSweep) (inactivated int, ended []Ended, err error)
	// PurgeEnded deletes at most limit sessions (and their refresh tokens)
	// ended before the time, oldest first, in one short transaction, and
	// returns how many. It may skip rows another transaction holds (another
	// instance's purge), so fewer than limit does not mean none is left;
	// 0 means none it could take. The core calls it in a loop
	// (Manager.Purge) until it returns 0, so that a purge of millions never
	// holds locks, WAL or a trigger's transition table for more than one
	// batch.
	PurgeEnded(ctx context.Context, endedBefore time.Time, limit int) (int, error)
	DeleteSession(ctx context.Context, id string) error
	ListSessions(ctx context.Context, f SessionFilter) (SessionPage, error)
	// CountSessions counts the sessions the filter selects (its cursor,
	// sort and limit aside), stopping past atMost: the answer is at most
	// atMost+1.
	CountSessions(ctx context.Context, f SessionFilter, atMost int) (int, error)
	// LoginHistory returns the countries and device families of the user's
	// earlier sessions and the most recent one (any status).
	LoginHistory(ctx context.Context, userID string) (LoginHistory, error)
}

// EventStore keeps the audit log and the alert outbox.
type EventStore interface {
	// AppendEvent seals e (Event.Seal with the next Seq and the previous
	// hash) and appends it, with its deliveries, in one transaction.
	AppendEvent(ctx context.Context, e *Event, deliveries []*Delivery) error
	ListEvents(ctx context.Context, f EventFilter) (events []*Event, nextCursor string, err error)
}

// SettingsStore keeps small JSON documents by key.
type SettingsStore interface {
	// GetSetting returns the document or ENOTFOUND.
	GetSetting(ctx context.Context, key string) ([]byte, error)
	PutSetting(ctx context.Context, key string, value []byte) error
}

// Store is everything a full store implements.
type Store interface {
	UserStore
	SessionStore
	TrailStore
	EventStore
	SettingsStore
	Ping(ctx context.Context) error
	Close() error
}

// OutboxStore hands alert deliveries to workers. Exactly one worker holds a
// delivery at a time (row locks / SKIP LOCKED on Postgres).
type OutboxStore interface {
	// ClaimDeliveries takes up to limit pending deliveries due at now and
	// leases them: their NextAttemptAt moves to now+lease, so a crashed
	// worker's claim expires and another worker retries.
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*Delivery, error)
	CompleteDelivery(ctx context.Context, id int64, at time.Time) error
	// FailDelivery records a failed attempt (Attempts+1, LastError) and
	// schedules the next at next, or dead-letters it when dead is true.
	FailDelivery(ctx context.Context, id int64, errMsg string, next time.Time, dead bool) error
	// RetryDelivery makes a dead delivery pending again, due at now.
	RetryDelivery(ctx context.Context, id int64, now time.Time) error
	// DropDelivery ends a pending delivery without sending it (its rule's
	// condition said no), recording why in LastError.
	DropDelivery(ctx context.Context, id int64, reason string, at time.Time) error
	ListDeliveries(ctx context.Context, f DeliveryFilter) (ds []*Delivery, nextCursor string, err error)
	// OutboxDepth counts pending deliveries.
	OutboxDepth(ctx context.Context) (int64, error)
}

// KeyStore keeps the signing keys of access tokens.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	ListSigningKeys(ctx context.Context) ([]*SigningKey, error)
	UpdateSigningKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error
}

// AdminStore keeps admin accounts and admin API tokens.
type AdminStore interface {
	CreateAdmin(ctx context.Context, a *Admin) error
	AdminByEmail(ctx context.Context, email string) (*Admin, error)
	AdminByID(ctx context.Context, id string) (*Admin, error)
	CountAdmins(ctx context.Context) (int, error)
	SetAdminTOTP(ctx context.Context, id string, sealed []byte) error
	// SetAdminPassword replaces the admin's password hash.
	SetAdminPassword(ctx context.Context, id, hash string) error
	CreateAdminToken(ctx context.Context, t *AdminToken) error
	// AdminTokenByHash returns a token that is not revoked, else ENOTFOUND.
	AdminTokenByHash(ctx context.Context, hash []byte) (*AdminToken, error)
	TouchAdminToken(ctx context.Context, id string, at time.Time) error
	ListAdminTokens(ctx context.Context) ([]*AdminToken, error)
	RevokeAdminToken(ctx context.Context, id string, at time.Time) error
}

// MagicLinkStore keeps single-use sign-in links.
type MagicLinkStore interface {
	CreateMagicLink(ctx context.Context, l *MagicLink) error
	// ConsumeMagicLink marks the link used if it is unused and not expired
	// at now; of concurrent calls exactly one succeeds. Otherwise an
	// EINVALID error with Reason link_used, link_expired or link_unknown.
	ConsumeMagicLink(ctx context.Context, hash []byte, now time.Time) (*MagicLink, error)
}

// Count is one bucket of an aggregate.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// Stats are the dashboard's aggregates, computed in the store.
type Stats struct {
	OnlineNow         int64   `json:"onlineNow"`
	Active15m         int64   `json:"active15m"`
	Active30m         int64   `json:"active30m"`
	TotalUsers        int64   `json:"totalUsers"`
	BlockedUsers      int64   `json:"blockedUsers"`
	LoginsToday       int64   `json:"loginsToday"`
	Logins24h         int64   `json:"logins24h"`
	Logins7d          int64   `json:"logins7d"`
	ByCountry         []Count `json:"byCountry"`
	ByDevice          []Count `json:"byDevice"`
	ByBrowser         []Count `json:"byBrowser"`
	ByOS              []Count `json:"byOs"`
	AvgSessionSeconds float64 `json:"avgSessionSeconds"`
	// LoginsPerDay counts logins per UTC day (key YYYY-MM-DD) for 14 days.
	LoginsPerDay []Count `json:"loginsPerDay"`
	// Challenges24h counts the events of StatsChallengeTypes of the last 24
	// hours by type (key: the event type; every type listed, zeros included).
	Challenges24h []Count `json:"challenges24h"`
}

// StatsChallengeTypes are the event types the analytics count: challenges
// issued, passed and failed, and "This wasn't me" reports.
var StatsChallengeTypes = []string{EventLoginChallenged, EventChallengePassed, EventChallengeFailed, EventSessionReported}

// ChallengeCounts orders counts by StatsChallengeTypes, zeros included.
func ChallengeCounts(found map[string]int64) []Count {
	out := make([]Count, len(StatsChallengeTypes))
	for i, t := range StatsChallengeTypes {
		out[i] = Count{Key: t, Count: found[t]}
	}
	return out
}

// StatsStore computes Stats with SQL aggregates, never by loading rows.
type StatsStore interface {
	// Stats at now; by-country/device/browser/OS count live sessions.
	Stats(ctx context.Context, now time.Time) (*Stats, error)
	// OnlineNow is Stats' OnlineNow alone (the sessions whose status is
	// active), read from the counters without the rest of Stats: the
	// server's metrics gauge polls it.
	OnlineNow(ctx context.Context) (int64, error)
}

// PrivacyStore erases a user's personal data.
type PrivacyStore interface {
	// EraseUser clears the user's email/username (to "erased-<id>"), its
	// sessions' IP, user agent and location, the personal fields of its
	// events and of the events without a user id that name its email or
	// username (PersonalNames), keeping PersonalDigest so the chain still
	// verifies, and deletes its magic links and trusted devices.
	EraseUser(ctx context.Context, userID string, at time.Time) error
}
