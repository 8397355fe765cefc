package sessionmanager

import (
	"context"
	"time"
)

// AdminSession is one dashboard sign-in. The browser's cookie holds a random
// 256-bit token; the store keeps only its keyed lookup hash, so a database
// dump signs nobody in. ID is a separate random id that names the session in
// lists and the admin API without revealing the token.
type AdminSession struct {
	ID         string    `json:"id"`
	AdminID    string    `json:"adminId"`
	Hash       []byte    `json:"-"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"userAgent"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	// ExpiresAt is the absolute end: no activity extends it.
	ExpiresAt time.Time `json:"expiresAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	EndReason EndReason `json:"endReason,omitempty"`
}

// Ended reports whether the session was ended.
func (s *AdminSession) Ended() bool { return !s.EndedAt.IsZero() }

// AdminSessionStore keeps dashboard sessions as revocable records.
type AdminSessionStore interface {
	// CreateAdminSession stores a session; a duplicate id or hash is ECONFLICT.
	CreateAdminSession(ctx context.Context, s *AdminSession) error
	// AdminSessionByHash returns the session with this token hash, ended or
	// not, else ENOTFOUND.
	AdminSessionByHash(ctx context.Context, hash []byte) (*AdminSession, error)
	// AdminSessionByID returns the session, ended or not, else ENOTFOUND.
	AdminSessionByID(ctx context.Context, id string) (*AdminSession, error)
	// TouchAdminSession moves LastSeenAt forward (never back) of a session
	// not ended; an unknown or ended session is ENOTFOUND.
	TouchAdminSession(ctx context.Context, id string, at time.Time) error
	// EndAdminSession ends a session that is not ended yet; of concurrent
	// calls exactly one succeeds, the others (and unknown ids) get ENOTFOUND.
	EndAdminSession(ctx context.Context, id string, at time.Time, reason EndReason) error
	// EndAdminSessions ends every session of adminID not ended yet except
	// exceptID ("" for none) and returns the ids it ended.
	EndAdminSessions(ctx context.Context, adminID, exceptID string, at time.Time, reason EndReason) ([]string, error)
	// ListAdminSessions lists the sessions not ended whose ExpiresAt is
	// after now, newest first; adminID "" lists every admin's.
	ListAdminSessions(ctx context.Context, adminID string, now time.Time) ([]*AdminSession, error)
	// PurgeAdminSessions deletes sessions ended or expired before cutoff
	// and returns how many.
	PurgeAdminSessions(ctx context.Context, cutoff time.Time) (int64, error)
	// NoteAdminSignIn moves the admin's LastSignInAt forward (never back).
	NoteAdminSignIn(ctx context.Context, id string, at time.Time) error
}

// Dashboard session defaults (Config.AdminSessionTTL, Config.AdminIdleTimeout).
const (
	DefaultAdminSessionTTL  = 8 * time.Hour
	DefaultAdminIdleTimeout = 30 * time.Minute
)

// adminTouchEvery is the most often one session's last-seen is written;
// the idle check re-reads the store before it ends a session, so another
// instance's more recent write is never missed.
const adminTouchEvery = time.Minute
