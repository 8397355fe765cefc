package postgres

import (
	"bytes"
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// ListAdmins lists every admin, oldest first.
func (s *Store) ListAdmins(ctx context.Context) ([]*sm.Admin, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+adminColumns+` FROM admins ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr(err, "admins")
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.Admin, error) { return scanAdmin(r) })
	if err != nil {
		return nil, mapErr(err, "admins")
	}
	return list, nil
}

// SetAdminAccess writes the change's column in a transaction that first
// locks every active owner's row: two owners demoting each other at once
// are serialised, and the second finds itself the last owner (ECONFLICT).
// A role change and a deactivation of one admin meet on that admin's row
// lock, and each writes only its own column.
func (s *Store) SetAdminAccess(ctx context.Context, id string, ch sm.AdminAccessChange) (*sm.Admin, error) {
	if !storable(id) {
		return nil, notFound("admin")
	}
	mode := 0
	if ch.Deactivate {
		mode = 1
	} else if ch.Reactivate {
		mode = 2
	}
	var a *sm.Admin
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The active owners and the admin changed, locked in one pass in id
		// order: every change locks the rows it needs in the same order. (It
		// locked the owners first and the changed row by its UPDATE after:
		// a change that began after another had demoted its admin saw one
		// owner fewer, locked that one, then waited for its own row, held
		// by a change waiting for that owner: a deadlock.)
		rows, err := tx.Query(ctx, `SELECT id, role = 'owner' AND disabled_at IS NULL FROM admins
			WHERE (role = 'owner' AND disabled_at IS NULL) OR id = $1 ORDER BY id FOR UPDATE`, id)
		if err != nil {
			return mapErr(err, "admins")
		}
		var owners []string
		var rowID string
		var owner bool
		if _, err := pgx.ForEachRow(rows, []any{&rowID, &owner}, func() error {
			if owner {
				owners = append(owners, rowID)
			}
			return nil
		}); err != nil {
			return mapErr(err, "admins")
		}
		a, err = scanAdmin(tx.QueryRow(ctx, `UPDATE admins SET role = CASE WHEN $2 = '' THEN role ELSE $2 END,
			disabled_at = CASE $3::int WHEN 1 THEN coalesce(disabled_at, $4) WHEN 2 THEN NULL ELSE disabled_at END
			WHERE id = $1 RETURNING `+adminColumns, id, ch.Role, mode, ch.At))
		if err != nil {
			return mapErr(err, "admin")
		}
		stillOwner := a.Role == sm.RoleOwner && a.DisabledAt.IsZero()
		others := 0
		for _, o := range owners {
			if o != id {
				others++
			}
		}
		if !stillOwner && others == 0 {
			return sm.Errorf(sm.ECONFLICT, "the last owner cannot be removed")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// NoteAdminSignIn records the start of the admin's latest sign-in.
func (s *Store) NoteAdminSignIn(ctx context.Context, id string, at time.Time) error {
	return s.updateOne(ctx, "admin", `UPDATE admins SET last_sign_in_at = GREATEST(last_sign_in_at, $2) WHERE id = $1`, id, at)
}

const inviteColumns = `hash, email, role, invited_by, created_at, expires_at, used_at, revoked_at, revoked_reason`

// pendingInvite is the condition of an invitation neither used nor revoked.
const pendingInvite = `used_at IS NULL AND revoked_at IS NULL`

// inviterMayInvite is the condition on the inviter's row (admins a) for
// their invitation to be used: still allowed to invite, whatever the role
// invited. Managing the team is the owner's alone (sm.RoleAllows(role,
// PermTeam)), so an active owner.
const inviterMayInvite = `a.role = 'owner' AND a.disabled_at IS NULL`

// scanInvite reads a row of inviteColumns.
func scanInvite(row pgx.Row) (*sm.AdminInvite, error) {
	var inv sm.AdminInvite
	if err := row.Scan(&inv.Hash, &inv.Email, &inv.Role, &inv.InvitedBy, utc(&inv.CreatedAt), utc(&inv.ExpiresAt), utc(&inv.UsedAt),
		utc(&inv.RevokedAt), &inv.RevokedReason); err != nil {
		return nil, err
	}
	return &inv, nil
}

// CreateAdminInvite stores an invitation by its token's hash (ECONFLICT
// for a hash stored already).
func (s *Store) CreateAdminInvite(ctx context.Context, inv *sm.AdminInvite) error {
	if !storable(inv.Email) || !storable(inv.Role) || !storable(inv.InvitedBy) {
		return sm.InvalidFields(map[string]string{"invite": "email, role and inviter must be text"})
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_invites (`+inviteColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		inv.Hash, inv.Email, inv.Role, inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt, nullTime(inv.UsedAt), nullTime(inv.RevokedAt), inv.RevokedReason)
	return mapErr(err, "admin invite")
}

// ListAdminInvites lists the invitations pending at now, newest first.
func (s *Store) ListAdminInvites(ctx context.Context, now time.Time) ([]*sm.AdminInvite, error) {
	return s.invites(ctx, `SELECT `+inviteColumns+` FROM admin_invites
		WHERE `+pendingInvite+` AND expires_at > $1 ORDER BY created_at DESC, hash`, now)
}

// RevokeAdminInvites revokes the pending invitations r names in one
// UPDATE; a replacement (r.ReplacedBy) in a transaction of its own.
func (s *Store) RevokeAdminInvites(ctx context.Context, r sm.AdminInviteRevocation) ([]*sm.AdminInvite, error) {
	cond, arg := "", any(nil)
	switch {
	case r.Hash != nil:
		cond, arg = `hash = $3`, r.Hash
	case r.Email != "" && r.ReplacedBy != nil:
		return s.replaceAdminInvites(ctx, r)
	case r.Email != "":
		cond, arg = `lower(email) = lower($3)`, r.Email
	case r.InvitedBy != "":
		cond, arg = `invited_by = $3`, r.InvitedBy
	default:
		return nil, sm.InvalidFields(map[string]string{"revocation": "names no invitation"})
	}
	if v, ok := arg.(string); ok && !storable(v) {
		return nil, nil
	}
	return s.invites(ctx, `UPDATE admin_invites SET revoked_at = $1, revoked_reason = $2
		WHERE `+cond+` AND `+pendingInvite+` RETURNING `+inviteColumns, r.At, r.Reason, arg)
}

// replaceAdminInvites revokes the invitations pending for r.Email other
// than r.ReplacedBy while that one is pending. It locks them all, its own
// included, in hash order first: of replacements for one email at the
// same moment the first revokes the others, and the others, waiting on
// its locks, then find their own revoked and revoke nothing (no deadlock,
// and exactly one stays pending).
func (s *Store) replaceAdminInvites(ctx context.Context, r sm.AdminInviteRevocation) ([]*sm.AdminInvite, error) {
	if !storable(r.Email) {
		return nil, nil
	}
	var revoked []*sm.AdminInvite
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT hash FROM admin_invites WHERE lower(email) = lower($1) AND `+pendingInvite+` ORDER BY hash FOR UPDATE`, r.Email)
		if err != nil {
			return mapErr(err, "admin invites")
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return mapErr(err, "admin invites")
		}
		var others [][]byte
		pending := false
		for _, h := range locked {
			if bytes.Equal(h, r.ReplacedBy.Hash) {
				pending = true
			} else {
				others = append(others, h)
			}
		}
		if !pending || len(others) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, `UPDATE admin_invites SET revoked_at = $1, revoked_reason = $2 WHERE hash = ANY($3) RETURNING `+inviteColumns, r.At, r.Reason, others)
		if err != nil {
			return mapErr(err, "admin invites")
		}
		revoked, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.AdminInvite, error) { return scanInvite(r) })
		return mapErr(err, "admin invites")
	})
	return revoked, err
}

// invites runs a query of inviteColumns.
func (s *Store) invites(ctx context.Context, query string, args ...any) ([]*sm.AdminInvite, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, "admin invites")
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.AdminInvite, error) { return scanInvite(r) })
	return list, mapErr(err, "admin invites")
}

// AdminInvite returns the invitation with this hash, whatever its state.
func (s *Store) AdminInvite(ctx context.Context, hash []byte) (*sm.AdminInvite, error) {
	inv, err := scanInvite(s.pool.QueryRow(ctx, `SELECT `+inviteColumns+` FROM admin_invites WHERE hash = $1`, hash))
	return inv, mapErr(err, "admin invite")
}

// UseAdminInvite spends an invitation in one conditional UPDATE: pending,
// unexpired, and its inviter still an active owner (inviterMayInvite).
func (s *Store) UseAdminInvite(ctx context.Context, hash []byte, now time.Time) (*sm.AdminInvite, error) {
	inv, err := scanInvite(s.pool.QueryRow(ctx, `UPDATE admin_invites SET used_at = $2
		WHERE hash = $1 AND `+pendingInvite+` AND expires_at > $2
		AND EXISTS (SELECT 1 FROM admins a WHERE a.id = admin_invites.invited_by AND `+inviterMayInvite+`)
		RETURNING `+inviteColumns, hash, now))
	return inv, mapErr(err, "admin invite")
}

// SetAdminRecoveryCodes replaces the admin's recovery codes.
func (s *Store) SetAdminRecoveryCodes(ctx context.Context, adminID string, hashes [][]byte) error {
	return s.replaceRecoveryCodes(ctx, adminRecoveryCodes, adminID, hashes, time.Time{})
}

// UseAdminRecoveryCode spends an unused code in one conditional UPDATE.
func (s *Store) UseAdminRecoveryCode(ctx context.Context, adminID string, hash []byte, at time.Time) error {
	return s.useRecoveryCode(ctx, adminRecoveryCodes, adminID, hash, at)
}
