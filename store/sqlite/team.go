package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// ListAdmins lists every admin, oldest first.
func (s *Store) ListAdmins(ctx context.Context) ([]*sessionmanager.Admin, error) {
	return queryAll(ctx, s.read, "list admins", scanAdmin, `SELECT `+adminColumns+` FROM admins ORDER BY created_at, id`)
}

// SetAdminAccess writes the change's column in one guarded UPDATE: it
// changes nothing when the admin would stop being an active owner and no
// other active owner exists (ECONFLICT). SQLite runs one writer at a time,
// so the guard and the change are atomic.
func (s *Store) SetAdminAccess(ctx context.Context, id string, ch sessionmanager.AdminAccessChange) (*sessionmanager.Admin, error) {
	// ?1 the role ("" keeps it); ?2: 1 deactivate at ?3 (unless already),
	// 2 reactivate, 0 keep.
	const (
		newRole     = `CASE WHEN ?1 = '' THEN role ELSE ?1 END`
		newDisabled = `CASE ?2 WHEN 1 THEN coalesce(disabled_at, ?3) WHEN 2 THEN NULL ELSE disabled_at END`
	)
	mode := 0
	if ch.Deactivate {
		mode = 1
	} else if ch.Reactivate {
		mode = 2
	}
	a, err := scanAdmin(s.write.QueryRowContext(ctx, `UPDATE admins SET role = `+newRole+`, disabled_at = `+newDisabled+` WHERE id = ?4
		AND ((`+newRole+` = 'owner' AND `+newDisabled+` IS NULL)
			OR EXISTS (SELECT 1 FROM admins o WHERE o.role = 'owner' AND o.disabled_at IS NULL AND o.id <> ?4))
		RETURNING `+adminColumns, ch.Role, mode, ch.At.UnixMicro(), id))
	if err == nil {
		return a, nil
	}
	if !isNoRows(err) {
		return nil, fmt.Errorf("sqlite: set admin access: %w", err)
	}
	if _, err := s.AdminByID(ctx, id); err != nil {
		return nil, err
	}
	return nil, sessionmanager.Errorf(sessionmanager.ECONFLICT, "the last owner cannot be removed")
}

// NoteAdminSignIn records the start of the admin's latest sign-in.
func (s *Store) NoteAdminSignIn(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admins SET last_sign_in_at = max(coalesce(last_sign_in_at, 0), ?) WHERE id = ?`, at.UnixMicro(), id)
	return mustAffect(res, err, "admin")
}

// CreateAdminInvite stores an invitation by its token's hash.
func (s *Store) CreateAdminInvite(ctx context.Context, inv *sessionmanager.AdminInvite) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO admin_invites (hash, email, role, invited_by, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, inv.Hash, inv.Email, inv.Role, inv.InvitedBy, inv.CreatedAt.UnixMicro(), inv.ExpiresAt.UnixMicro(), micro(inv.UsedAt))
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "an invitation with this hash already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create admin invite: %w", err)
	}
	return nil
}

// UseAdminInvite spends an invitation in one guarded UPDATE.
func (s *Store) UseAdminInvite(ctx context.Context, hash []byte, now time.Time) (*sessionmanager.AdminInvite, error) {
	var (
		inv                    sessionmanager.AdminInvite
		created, expires, used int64
	)
	err := s.write.QueryRowContext(ctx, `UPDATE admin_invites SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING hash, email, role, invited_by, created_at, expires_at, used_at`, now.UnixMicro(), hash, now.UnixMicro()).
		Scan(&inv.Hash, &inv.Email, &inv.Role, &inv.InvitedBy, &created, &expires, &used)
	if isNoRows(err) {
		return nil, notFound("admin invite")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: use admin invite: %w", err)
	}
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = timeOf(created), timeOf(expires), timeOf(used)
	return &inv, nil
}

// SetAdminRecoveryCodes replaces the admin's recovery codes.
func (s *Store) SetAdminRecoveryCodes(ctx context.Context, adminID string, hashes [][]byte) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_recovery_codes WHERE admin_id = ?`, adminID); err != nil {
			return fmt.Errorf("sqlite: delete recovery codes: %w", err)
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO admin_recovery_codes (admin_id, hash) VALUES (?, ?)`, adminID, h); err != nil {
				return fmt.Errorf("sqlite: store recovery code: %w", err)
			}
		}
		return nil
	})
}

// UseAdminRecoveryCode spends an unused code in one guarded UPDATE.
func (s *Store) UseAdminRecoveryCode(ctx context.Context, adminID string, hash []byte, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE admin_recovery_codes SET used_at = ? WHERE admin_id = ? AND hash = ? AND used_at IS NULL`,
		at.UnixMicro(), adminID, hash)
	return mustAffect(res, err, "recovery code")
}
