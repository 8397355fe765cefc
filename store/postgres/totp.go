package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// UserTOTP returns the user's TOTP enrolment or ENOTFOUND.
func (s *Store) UserTOTP(ctx context.Context, userID string) (*sm.UserTOTP, error) {
	if !storable(userID) {
		return nil, notFound("TOTP")
	}
	t := sm.UserTOTP{UserID: userID}
	err := s.pool.QueryRow(ctx, `SELECT secret_sealed, confirmed_at, pending_sealed, pending_at FROM user_totp WHERE user_id = $1`, userID).
		Scan(&t.Sealed, utc(&t.ConfirmedAt), &t.PendingSealed, utc(&t.PendingAt))
	if err != nil {
		return nil, mapErr(err, "TOTP")
	}
	return &t, nil
}

// SetPendingTOTP stores a secret awaiting confirmation; the active one stays.
func (s *Store) SetPendingTOTP(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	if len(sealed) == 0 {
		return sm.InvalidFields(map[string]string{"sealed": "required"})
	}
	if !storable(userID) {
		return notFound("user")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO user_totp (user_id, pending_sealed, pending_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET pending_sealed = excluded.pending_sealed, pending_at = excluded.pending_at`,
		userID, sealed, at)
	if isForeignKey(err) {
		return notFound("user")
	}
	return mapErr(err, "TOTP")
}

// ConfirmTOTP makes the pending secret active if it is still sealed.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE user_totp SET secret_sealed = pending_sealed, confirmed_at = $3, pending_sealed = NULL, pending_at = NULL
		WHERE user_id = $1 AND pending_sealed = $2`, userID, nullBytes(sealed), at)
	if err != nil {
		return mapErr(err, "TOTP")
	}
	if tag.RowsAffected() == 0 {
		return sm.Errorf(sm.ECONFLICT, "this TOTP enrolment is no longer pending")
	}
	return nil
}

// DeleteUserTOTP removes the user's TOTP.
func (s *Store) DeleteUserTOTP(ctx context.Context, userID string) (bool, error) {
	if !storable(userID) {
		return false, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM user_totp WHERE user_id = $1`, userID)
	if err != nil {
		return false, mapErr(err, "TOTP")
	}
	return tag.RowsAffected() > 0, nil
}

// recoveryTable is a table of recovery codes: the users' or the admins'.
// Both are written by the same two functions below.
type recoveryTable struct {
	name, owner, what string
	created           bool // the table has created_at
}

var (
	userRecoveryCodes  = recoveryTable{name: "recovery_codes", owner: "user_id", what: "user", created: true}
	adminRecoveryCodes = recoveryTable{name: "admin_recovery_codes", owner: "admin_id", what: "admin"}
)

// ReplaceRecoveryCodes replaces all of the user's recovery codes in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	return s.replaceRecoveryCodes(ctx, userRecoveryCodes, userID, hashes, at)
}

// UseRecoveryCode spends an unused code in one guarded UPDATE.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error {
	return s.useRecoveryCode(ctx, userRecoveryCodes, userID, hash, at)
}

// replaceRecoveryCodes replaces all of an owner's codes in t in one
// transaction (one INSERT for all of them).
func (s *Store) replaceRecoveryCodes(ctx context.Context, t recoveryTable, ownerID string, hashes [][]byte, at time.Time) error {
	if !storable(ownerID) {
		return notFound(t.what)
	}
	insert, args := `INSERT INTO `+t.name+` (`+t.owner+`, hash) SELECT $1, h FROM unnest($2::bytea[]) AS h`, []any{ownerID, hashes}
	if t.created {
		insert, args = `INSERT INTO `+t.name+` (`+t.owner+`, hash, created_at) SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`, append(args, at)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+t.name+` WHERE `+t.owner+` = $1`, ownerID); err != nil {
			return mapErr(err, "recovery codes")
		}
		if len(hashes) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, insert, args...)
		if isForeignKey(err) {
			return notFound(t.what)
		}
		return mapErr(err, "recovery code")
	})
}

// useRecoveryCode spends an owner's unused code in t in one conditional
// UPDATE.
func (s *Store) useRecoveryCode(ctx context.Context, t recoveryTable, ownerID string, hash []byte, at time.Time) error {
	if !storable(ownerID) {
		return notFound("recovery code")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+t.name+` SET used_at = $3 WHERE `+t.owner+` = $1 AND hash = $2 AND used_at IS NULL`,
		ownerID, nullBytes(hash), at)
	if err != nil {
		return mapErr(err, "recovery code")
	}
	if tag.RowsAffected() == 0 {
		return notFound("recovery code")
	}
	return nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	if !storable(userID) {
		return 0, nil
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	return n, mapErr(err, "recovery codes")
}
