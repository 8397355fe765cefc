package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const adminColumns = `id, email, password_hash, totp_sealed, created_at, role, disabled_at, last_sign_in_at`

// scanAdmin reads a row of adminColumns.
func scanAdmin(row pgx.Row) (*sm.Admin, error) {
	var a sm.Admin
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.TOTPSealed, utc(&a.CreatedAt), &a.Role, utc(&a.DisabledAt), utc(&a.LastSignInAt)); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAdmin stores an admin (an empty role is owner); a duplicate id or
// email (any case) is ECONFLICT.
func (s *Store) CreateAdmin(ctx context.Context, a *sm.Admin) error {
	if a.Role == "" {
		a.Role = sm.RoleOwner
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO admins (`+adminColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		a.ID, a.Email, a.PasswordHash, nullBytes(a.TOTPSealed), a.CreatedAt, a.Role, nullTime(a.DisabledAt), nullTime(a.LastSignInAt))
	return mapErr(err, "admin")
}

// AdminByEmail finds an admin by email, case-insensitively.
func (s *Store) AdminByEmail(ctx context.Context, email string) (*sm.Admin, error) {
	if !storable(email) {
		return nil, notFound("admin")
	}
	a, err := scanAdmin(s.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE lower(email) = lower($1)`, email))
	return a, mapErr(err, "admin")
}

// AdminByID finds an admin by id.
func (s *Store) AdminByID(ctx context.Context, id string) (*sm.Admin, error) {
	if !storable(id) {
		return nil, notFound("admin")
	}
	a, err := scanAdmin(s.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1`, id))
	return a, mapErr(err, "admin")
}

// CountAdmins counts admin accounts.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM admins`).Scan(&n)
	return n, mapErr(err, "admins")
}

// SetAdminTOTP sets (or, with nil, clears) the admin's sealed TOTP secret.
func (s *Store) SetAdminTOTP(ctx context.Context, id string, sealed []byte) error {
	return s.updateOne(ctx, "admin", `UPDATE admins SET totp_sealed = $2 WHERE id = $1`, id, nullBytes(sealed))
}

const adminTokenColumns = `id, name, hash, scope, created_at, last_used_at, revoked_at`

// scanAdminToken reads a row of adminTokenColumns.
func scanAdminToken(row pgx.Row) (*sm.AdminToken, error) {
	var t sm.AdminToken
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.Scope, utc(&t.CreatedAt), utc(&t.LastUsedAt), utc(&t.RevokedAt)); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateAdminToken stores an admin API token (its hash only).
func (s *Store) CreateAdminToken(ctx context.Context, t *sm.AdminToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_tokens (`+adminTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Name, t.Hash, t.Scope, t.CreatedAt, nullTime(t.LastUsedAt), nullTime(t.RevokedAt))
	return mapErr(err, "admin token")
}

// AdminTokenByHash returns the token with this hash unless it is revoked.
func (s *Store) AdminTokenByHash(ctx context.Context, hash []byte) (*sm.AdminToken, error) {
	t, err := scanAdminToken(s.pool.QueryRow(ctx, `SELECT `+adminTokenColumns+` FROM admin_tokens
		WHERE hash = $1 AND revoked_at IS NULL`, hash))
	return t, mapErr(err, "admin token")
}

// TouchAdminToken records when the token was last used.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	return s.updateOne(ctx, "admin token", `UPDATE admin_tokens SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1`, id, at)
}

// ListAdminTokens lists every admin token, revoked ones included, oldest first.
func (s *Store) ListAdminTokens(ctx context.Context) ([]*sm.AdminToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+adminTokenColumns+` FROM admin_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr(err, "admin tokens")
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.AdminToken, error) { return scanAdminToken(r) })
	if err != nil {
		return nil, mapErr(err, "admin tokens")
	}
	if ts == nil {
		ts = []*sm.AdminToken{}
	}
	return ts, nil
}

// RevokeAdminToken revokes a token; revoking twice keeps the first time.
func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	return s.updateOne(ctx, "admin token", `UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, at)
}

// updateOne runs an update keyed by the text id in $1; no row is ENOTFOUND.
func (s *Store) updateOne(ctx context.Context, what, sql, id string, args ...any) error {
	if !storable(id) {
		return notFound(what)
	}
	tag, err := s.pool.Exec(ctx, sql, append([]any{id}, args...)...)
	if err != nil {
		return mapErr(err, what)
	}
	if tag.RowsAffected() == 0 {
		return notFound(what)
	}
	return nil
}
