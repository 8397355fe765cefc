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

const inviteColumns = `hash, email, role, invited_by, created_at, expires_at, used_at, revoked_at, revoked_reason`

// pendingInvite is the condition of an invitation neither used nor revoked.
const pendingInvite = `used_at IS NULL AND revoked_at IS NULL`

// inviterMayInvite is the condition on the inviter's row (admins a) for
// their invitation to be used: still allowed to invite, whatever the role
// invited. Managing the team is the owner's alone (sm.RoleAllows(role,
// PermTeam)), so an active owner.
const inviterMayInvite = `a.role = 'owner' AND a.disabled_at IS NULL`

// scanInvite reads the inviteColumns of one row.
func scanInvite(row rowScanner) (*sessionmanager.AdminInvite, error) {
	var (
		inv              sessionmanager.AdminInvite
		created, expires int64
		used, revoked    sql.NullInt64
	)
	if err := row.Scan(&inv.Hash, &inv.Email, &inv.Role, &inv.InvitedBy, &created, &expires, &used, &revoked, &inv.RevokedReason); err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt, inv.RevokedAt = timeOf(created), timeOf(expires), fromMicro(used), fromMicro(revoked)
	return &inv, nil
}

// CreateAdminInvite stores an invitation by its token's hash.
func (s *Store) CreateAdminInvite(ctx context.Context, inv *sessionmanager.AdminInvite) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO admin_invites (`+inviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.Hash, inv.Email, inv.Role, inv.InvitedBy, inv.CreatedAt.UnixMicro(), inv.ExpiresAt.UnixMicro(), micro(inv.UsedAt), micro(inv.RevokedAt), inv.RevokedReason)
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "an invitation with this hash already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create admin invite: %w", err)
	}
	return nil
}

// ListAdminInvites lists the invitations pending at now, newest first.
func (s *Store) ListAdminInvites(ctx context.Context, now time.Time) ([]*sessionmanager.AdminInvite, error) {
	return queryAll(ctx, s.read, "list admin invites", scanInvite, `SELECT `+inviteColumns+` FROM admin_invites
		WHERE `+pendingInvite+` AND expires_at > ? ORDER BY created_at DESC, hash`, now.UnixMicro())
}

// RevokeAdminInvites revokes the pending invitations r names in one
// UPDATE.
func (s *Store) RevokeAdminInvites(ctx context.Context, r sessionmanager.AdminInviteRevocation) ([]*sessionmanager.AdminInvite, error) {
	// ?3 the hash, email or inviter; ?4 the replacing invitation's hash.
	var cond string
	args := []any{r.At.UnixMicro(), r.Reason, nil}
	switch {
	case r.Hash != nil:
		cond, args[2] = `hash = ?3`, r.Hash
	case r.Email != "":
		cond, args[2] = `lower(email) = lower(?3)`, r.Email
		if by := r.ReplacedBy; by != nil {
			// The others, while the replacing one is pending: one statement,
			// and SQLite runs one writer at a time.
			cond += ` AND hash <> ?4 AND EXISTS (SELECT 1 FROM admin_invites n WHERE n.hash = ?4 AND n.used_at IS NULL AND n.revoked_at IS NULL)`
			args = append(args, by.Hash)
		}
	case r.InvitedBy != "":
		cond, args[2] = `invited_by = ?3`, r.InvitedBy
	default:
		return nil, sessionmanager.InvalidFields(map[string]string{"revocation": "names no invitation"})
	}
	return queryAll(ctx, s.write, "revoke admin invites", scanInvite, `UPDATE admin_invites SET revoked_at = ?1, revoked_reason = ?2
		WHERE `+cond+` AND `+pendingInvite+` RETURNING `+inviteColumns, args...)
}

// AdminInvite returns the invitation with this hash, whatever its state.
func (s *Store) AdminInvite(ctx context.Context, hash []byte) (*sessionmanager.AdminInvite, error) {
	inv, err := scanInvite(s.read.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM admin_invites WHERE hash = ?`, hash))
	if isNoRows(err) {
		return nil, notFound("admin invite")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read admin invite: %w", err)
	}
	return inv, nil
}

// UseAdminInvite spends an invitation in one guarded UPDATE: pending,
// unexpired, and its inviter still an active owner (inviterMayInvite).
func (s *Store) UseAdminInvite(ctx context.Context, hash []byte, now time.Time) (*sessionmanager.AdminInvite, error) {
	inv, err := scanInvite(s.write.QueryRowContext(ctx, `UPDATE admin_invites SET used_at = ?1 WHERE hash = ?2 AND `+pendingInvite+` AND expires_at > ?1
		AND EXISTS (SELECT 1 FROM admins a WHERE a.id = admin_invites.invited_by AND `+inviterMayInvite+`)
		RETURNING `+inviteColumns, now.UnixMicro(), hash))
	if isNoRows(err) {
		return nil, notFound("admin invite")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: use admin invite: %w", err)
	}
	return inv, nil
}

// SetAdminRecoveryCodes replaces the admin's recovery codes.
func (s *Store) SetAdminRecoveryCodes(ctx context.Context, adminID string, hashes [][]byte) error {
	return s.replaceRecoveryCodes(ctx, adminRecoveryCodes, adminID, hashes, time.Time{})
}

// UseAdminRecoveryCode spends an unused code in one guarded UPDATE.
func (s *Store) UseAdminRecoveryCode(ctx context.Context, adminID string, hash []byte, at time.Time) error {
	return s.useRecoveryCode(ctx, adminRecoveryCodes, adminID, hash, at)
}
