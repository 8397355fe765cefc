package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const adminSessionColumns = `id, admin_id, hash, ip, user_agent, created_at, last_seen_at, expires_at, ended_at, end_reason`

// scanAdminSession reads a row of adminSessionColumns.
func scanAdminSession(row pgx.Row) (*sm.AdminSession, error) {
	var a sm.AdminSession
	if err := row.Scan(&a.ID, &a.AdminID, &a.Hash, &a.IP, &a.UserAgent, utc(&a.CreatedAt), utc(&a.LastSeenAt),
		utc(&a.ExpiresAt), utc(&a.EndedAt), &a.EndReason); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAdminSession stores a dashboard session (its token hash only).
func (s *Store) CreateAdminSession(ctx context.Context, a *sm.AdminSession) error {
	if a.ID == "" || a.AdminID == "" || len(a.Hash) == 0 || a.CreatedAt.IsZero() || a.ExpiresAt.IsZero() {
		return sm.InvalidFields(map[string]string{"adminSession": "id, adminId, hash, createdAt and expiresAt are required"})
	}
	seen := a.LastSeenAt
	if seen.IsZero() {
		seen = a.CreatedAt
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_sessions (`+adminSessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.AdminID, a.Hash, a.IP, a.UserAgent, a.CreatedAt, seen, a.ExpiresAt, nullTime(a.EndedAt), string(a.EndReason))
	return mapErr(err, "admin session")
}

// AdminSessionByHash returns the session with this token hash, ended or not.
func (s *Store) AdminSessionByHash(ctx context.Context, hash []byte) (*sm.AdminSession, error) {
	if len(hash) == 0 {
		return nil, notFound("admin session")
	}
	a, err := scanAdminSession(s.pool.QueryRow(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions WHERE hash = $1`, hash))
	return a, mapErr(err, "admin session")
}

// AdminSessionByID returns the session, ended or not.
func (s *Store) AdminSessionByID(ctx context.Context, id string) (*sm.AdminSession, error) {
	if !storable(id) {
		return nil, notFound("admin session")
	}
	a, err := scanAdminSession(s.pool.QueryRow(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions WHERE id = $1`, id))
	return a, mapErr(err, "admin session")
}

// TouchAdminSession moves last seen forward on a session not ended.
func (s *Store) TouchAdminSession(ctx context.Context, id string, at time.Time) error {
	return s.updateOne(ctx, "admin session", `UPDATE admin_sessions SET last_seen_at = GREATEST(last_seen_at, $2)
		WHERE id = $1 AND ended_at IS NULL`, id, at)
}

// EndAdminSession ends a session not ended yet.
func (s *Store) EndAdminSession(ctx context.Context, id string, at time.Time, reason sm.EndReason) error {
	return s.updateOne(ctx, "admin session", `UPDATE admin_sessions SET ended_at = $2, end_reason = $3
		WHERE id = $1 AND ended_at IS NULL`, id, at, string(reason))
}

// EndAdminSessions ends the admin's sessions not ended yet, except exceptID.
func (s *Store) EndAdminSessions(ctx context.Context, adminID, exceptID string, at time.Time, reason sm.EndReason) ([]string, error) {
	if !storable(adminID) || !storable(exceptID) {
		return []string{}, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE admin_sessions SET ended_at = $3, end_reason = $4
		WHERE admin_id = $1 AND id <> $2 AND ended_at IS NULL RETURNING id`, adminID, exceptID, at, string(reason))
	if err != nil {
		return nil, mapErr(err, "admin sessions")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, mapErr(err, "admin sessions")
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// ListAdminSessions lists live sessions, newest first.
func (s *Store) ListAdminSessions(ctx context.Context, adminID string, now time.Time) ([]*sm.AdminSession, error) {
	if !storable(adminID) {
		return []*sm.AdminSession{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions
		WHERE ended_at IS NULL AND expires_at > $1 AND ($2 = '' OR admin_id = $2)
		ORDER BY created_at DESC, id DESC`, now, adminID)
	if err != nil {
		return nil, mapErr(err, "admin sessions")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.AdminSession, error) { return scanAdminSession(r) })
	if err != nil {
		return nil, mapErr(err, "admin sessions")
	}
	if out == nil {
		out = []*sm.AdminSession{}
	}
	return out, nil
}

// PurgeAdminSessions deletes sessions ended or expired before cutoff.
func (s *Store) PurgeAdminSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM admin_sessions WHERE coalesce(ended_at, expires_at) < $1`, cutoff)
	if err != nil {
		return 0, mapErr(err, "admin sessions")
	}
	return tag.RowsAffected(), nil
}

// SetAdminPassword replaces the admin's password hash.
func (s *Store) SetAdminPassword(ctx context.Context, id, hash string) error {
	return s.updateOne(ctx, "admin", `UPDATE admins SET password_hash = $2 WHERE id = $1`, id, hash)
}
