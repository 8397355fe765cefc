package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// CreateAdmin stores an admin (an empty role is owner); a duplicate id or email is ECONFLICT.
func (s *Store) CreateAdmin(ctx context.Context, a *sessionmanager.Admin) error {
	if a.ID == "" || a.Email == "" || a.CreatedAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"admin": "id, email and createdAt are required"})
	}
	if a.Role == "" {
		a.Role = sessionmanager.RoleOwner
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO admins (id, email, email_key, password_hash, totp_sealed, created_at, role, disabled_at, last_sign_in_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Email, strings.ToLower(a.Email), a.PasswordHash, blob(a.TOTPSealed), a.CreatedAt.UnixMicro(),
		a.Role, micro(a.DisabledAt), micro(a.LastSignInAt))
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "an admin with this email already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create admin: %w", err)
	}
	return nil
}

const adminColumns = `id, email, password_hash, totp_sealed, created_at, role, disabled_at, last_sign_in_at`

// scanAdmin reads the adminColumns of one row.
func scanAdmin(row rowScanner) (*sessionmanager.Admin, error) {
	var (
		a                sessionmanager.Admin
		created          int64
		disabled, signIn sql.NullInt64
	)
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.TOTPSealed, &created, &a.Role, &disabled, &signIn); err != nil {
		return nil, err
	}
	a.CreatedAt, a.DisabledAt, a.LastSignInAt = timeOf(created), fromMicro(disabled), fromMicro(signIn)
	return &a, nil
}

// adminWhere reads the one admin matching cond.
func (s *Store) adminWhere(ctx context.Context, cond string, arg any) (*sessionmanager.Admin, error) {
	a, err := scanAdmin(s.read.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE `+cond, arg))
	if isNoRows(err) {
		return nil, notFound("admin")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read admin: %w", err)
	}
	return a, nil
}

// AdminByEmail finds an admin by email, case-insensitively.
func (s *Store) AdminByEmail(ctx context.Context, email string) (*sessionmanager.Admin, error) {
	return s.adminWhere(ctx, `email_key = ?`, strings.ToLower(email))
}

// AdminByID returns the admin or ENOTFOUND.
func (s *Store) AdminByID(ctx context.Context, id string) (*sessionmanager.Admin, error) {
	return s.adminWhere(ctx, `id = ?`, id)
}

// CountAdmins counts admin accounts.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM admins`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count admins: %w", err)
	}
	return n, nil
}

// SetAdminTOTP stores the sealed TOTP secret (nil turns TOTP off).
func (s *Store) SetAdminTOTP(ctx context.Context, id string, sealed []byte) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admins SET totp_sealed = ? WHERE id = ?`, blob(sealed), id)
	return mustAffect(res, err, "admin")
}

// CreateAdminToken stores an admin API token (its hash only).
func (s *Store) CreateAdminToken(ctx context.Context, t *sessionmanager.AdminToken) error {
	if t.ID == "" || len(t.Hash) == 0 || t.CreatedAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"adminToken": "id, hash and createdAt are required"})
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO admin_tokens (id, name, hash, scope, created_at, last_used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Name, t.Hash, t.Scope, t.CreatedAt.UnixMicro(), micro(t.LastUsedAt), micro(t.RevokedAt))
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "an admin token with this id or hash already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create admin token: %w", err)
	}
	return nil
}

const adminTokenColumns = `id, name, hash, scope, created_at, last_used_at, revoked_at`

// scanAdminToken reads the adminTokenColumns of one row.
func scanAdminToken(row rowScanner) (*sessionmanager.AdminToken, error) {
	var (
		t             sessionmanager.AdminToken
		created       int64
		used, revoked sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.Scope, &created, &used, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = timeOf(created), fromMicro(used), fromMicro(revoked)
	return &t, nil
}

// AdminTokenByHash returns the token with this hash unless it is revoked.
func (s *Store) AdminTokenByHash(ctx context.Context, hash []byte) (*sessionmanager.AdminToken, error) {
	t, err := scanAdminToken(s.read.QueryRowContext(ctx, `SELECT `+adminTokenColumns+` FROM admin_tokens
		WHERE hash = ? AND revoked_at IS NULL`, hash))
	if isNoRows(err) {
		return nil, notFound("admin token")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read admin token: %w", err)
	}
	return t, nil
}

// TouchAdminToken records the token's last use.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admin_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`,
		at.UnixMicro(), id)
	return mustAffect(res, err, "admin token")
}

// ListAdminTokens returns every token, revoked ones included, oldest first.
func (s *Store) ListAdminTokens(ctx context.Context) ([]*sessionmanager.AdminToken, error) {
	return queryAll(ctx, s.read, "list admin tokens", scanAdminToken,
		`SELECT `+adminTokenColumns+` FROM admin_tokens ORDER BY created_at, id`)
}

// RevokeAdminToken revokes a token; revoking twice keeps the first time.
func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, at.UnixMicro(), id)
	return mustAffect(res, err, "admin token")
}
