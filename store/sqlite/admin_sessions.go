package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

const adminSessionColumns = `id, admin_id, hash, ip, user_agent, created_at, last_seen_at, expires_at, ended_at, end_reason`

// scanAdminSession reads the adminSessionColumns of one row.
func scanAdminSession(row rowScanner) (*sessionmanager.AdminSession, error) {
	var (
		a                      sessionmanager.AdminSession
		created, seen, expires int64
		ended                  sql.NullInt64
		reason                 string
	)
	if err := row.Scan(&a.ID, &a.AdminID, &a.Hash, &a.IP, &a.UserAgent, &created, &seen, &expires, &ended, &reason); err != nil {
		return nil, err
	}
	a.CreatedAt, a.LastSeenAt, a.ExpiresAt, a.EndedAt = timeOf(created), timeOf(seen), timeOf(expires), fromMicro(ended)
	a.EndReason = sessionmanager.EndReason(reason)
	return &a, nil
}

// CreateAdminSession stores a dashboard session (its token hash only).
func (s *Store) CreateAdminSession(ctx context.Context, a *sessionmanager.AdminSession) error {
	if a.ID == "" || a.AdminID == "" || len(a.Hash) == 0 || a.CreatedAt.IsZero() || a.ExpiresAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"adminSession": "id, adminId, hash, createdAt and expiresAt are required"})
	}
	seen := a.LastSeenAt
	if seen.IsZero() {
		seen = a.CreatedAt
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO admin_sessions (`+adminSessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.AdminID, a.Hash, a.IP, a.UserAgent,
		a.CreatedAt.UnixMicro(), seen.UnixMicro(), a.ExpiresAt.UnixMicro(), micro(a.EndedAt), string(a.EndReason))
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "an admin session with this id or hash already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create admin session: %w", err)
	}
	return nil
}

func (s *Store) adminSessionWhere(ctx context.Context, cond string, arg any) (*sessionmanager.AdminSession, error) {
	a, err := scanAdminSession(s.read.QueryRowContext(ctx, `SELECT `+adminSessionColumns+` FROM admin_sessions WHERE `+cond, arg))
	if isNoRows(err) {
		return nil, notFound("admin session")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read admin session: %w", err)
	}
	return a, nil
}

// AdminSessionByHash returns the session with this token hash, ended or not.
func (s *Store) AdminSessionByHash(ctx context.Context, hash []byte) (*sessionmanager.AdminSession, error) {
	if len(hash) == 0 {
		return nil, notFound("admin session")
	}
	return s.adminSessionWhere(ctx, `hash = ?`, hash)
}

// AdminSessionByID returns the session, ended or not.
func (s *Store) AdminSessionByID(ctx context.Context, id string) (*sessionmanager.AdminSession, error) {
	return s.adminSessionWhere(ctx, `id = ?`, id)
}

// TouchAdminSession moves last seen forward on a session not ended.
func (s *Store) TouchAdminSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admin_sessions SET last_seen_at = max(last_seen_at, ?)
		WHERE id = ? AND ended_at IS NULL`, at.UnixMicro(), id)
	return mustAffect(res, err, "admin session")
}

// EndAdminSession ends a session not ended yet.
func (s *Store) EndAdminSession(ctx context.Context, id string, at time.Time, reason sessionmanager.EndReason) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admin_sessions SET ended_at = ?, end_reason = ?
		WHERE id = ? AND ended_at IS NULL`, at.UnixMicro(), string(reason), id)
	return mustAffect(res, err, "admin session")
}

// EndAdminSessions ends the admin's sessions not ended yet, except exceptID.
func (s *Store) EndAdminSessions(ctx context.Context, adminID, exceptID string, at time.Time, reason sessionmanager.EndReason) ([]string, error) {
	ids, err := queryAll(ctx, s.write, "end admin sessions", func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, `UPDATE admin_sessions SET ended_at = ?, end_reason = ?
		WHERE admin_id = ? AND id <> ? AND ended_at IS NULL RETURNING id`, at.UnixMicro(), string(reason), adminID, exceptID)
	if ids == nil && err == nil {
		ids = []string{}
	}
	return ids, err
}

// ListAdminSessions lists live sessions, newest first.
func (s *Store) ListAdminSessions(ctx context.Context, adminID string, now time.Time) ([]*sessionmanager.AdminSession, error) {
	return queryAll(ctx, s.read, "list admin sessions", scanAdminSession,
		`SELECT `+adminSessionColumns+` FROM admin_sessions
		WHERE ended_at IS NULL AND expires_at > ? AND (? = '' OR admin_id = ?)
		ORDER BY created_at DESC, id DESC`, now.UnixMicro(), adminID, adminID)
}

// PurgeAdminSessions deletes sessions ended or expired before cutoff.
func (s *Store) PurgeAdminSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM admin_sessions WHERE coalesce(ended_at, expires_at) < ?`, cutoff.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge admin sessions: %w", err)
	}
	return res.RowsAffected()
}

// SetAdminPassword replaces the admin's password hash.
func (s *Store) SetAdminPassword(ctx context.Context, id, hash string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admins SET password_hash = ? WHERE id = ?`, hash, id)
	return mustAffect(res, err, "admin")
}
