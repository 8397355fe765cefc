package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// UserTOTP returns the user's TOTP enrolment or ENOTFOUND.
func (s *Store) UserTOTP(ctx context.Context, userID string) (*sessionmanager.UserTOTP, error) {
	t := sessionmanager.UserTOTP{UserID: userID}
	var confirmed, pending sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT secret_sealed, confirmed_at, pending_sealed, pending_at FROM user_totp WHERE user_id = ?`, userID).
		Scan(&t.Sealed, &confirmed, &t.PendingSealed, &pending)
	if isNoRows(err) {
		return nil, notFound("TOTP")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user totp: %w", err)
	}
	t.ConfirmedAt, t.PendingAt = fromMicro(confirmed), fromMicro(pending)
	return &t, nil
}

// SetPendingTOTP stores a secret awaiting confirmation; the active one stays.
func (s *Store) SetPendingTOTP(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	if len(sealed) == 0 {
		return sessionmanager.InvalidFields(map[string]string{"sealed": "required"})
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO user_totp (user_id, pending_sealed, pending_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET pending_sealed = excluded.pending_sealed, pending_at = excluded.pending_at`,
		userID, blob(sealed), at.UnixMicro())
	if isForeignKey(err) {
		return notFound("user")
	}
	if err != nil {
		return fmt.Errorf("sqlite: set pending totp: %w", unavailable(err))
	}
	return nil
}

// ConfirmTOTP makes the pending secret active if it is still sealed.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE user_totp SET secret_sealed = pending_sealed, confirmed_at = ?, pending_sealed = NULL, pending_at = NULL
		WHERE user_id = ? AND pending_sealed = ?`, at.UnixMicro(), userID, blob(sealed))
	if err != nil {
		return fmt.Errorf("sqlite: confirm totp: %w", unavailable(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "this TOTP enrolment is no longer pending")
	}
	return nil
}

// DeleteUserTOTP removes the user's TOTP.
func (s *Store) DeleteUserTOTP(ctx context.Context, userID string) (bool, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM user_totp WHERE user_id = ?`, userID)
	if err != nil {
		return false, fmt.Errorf("sqlite: delete totp: %w", unavailable(err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
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
// transaction.
func (s *Store) replaceRecoveryCodes(ctx context.Context, t recoveryTable, ownerID string, hashes [][]byte, at time.Time) error {
	insert := `INSERT INTO ` + t.name + ` (` + t.owner + `, hash) VALUES (?, ?)`
	if t.created {
		insert = `INSERT INTO ` + t.name + ` (` + t.owner + `, hash, created_at) VALUES (?, ?, ?)`
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t.name+` WHERE `+t.owner+` = ?`, ownerID); err != nil {
			return fmt.Errorf("sqlite: delete recovery codes: %w", unavailable(err))
		}
		for _, h := range hashes {
			args := []any{ownerID, blob(h)}
			if t.created {
				args = append(args, at.UnixMicro())
			}
			_, err := tx.ExecContext(ctx, insert, args...)
			switch {
			case isForeignKey(err):
				return notFound(t.what)
			case isUnique(err):
				return sessionmanager.Errorf(sessionmanager.ECONFLICT, "two recovery codes with one hash")
			case err != nil:
				return fmt.Errorf("sqlite: insert recovery code: %w", unavailable(err))
			}
		}
		return nil
	})
}

// useRecoveryCode spends an owner's unused code in t in one guarded UPDATE.
func (s *Store) useRecoveryCode(ctx context.Context, t recoveryTable, ownerID string, hash []byte, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE `+t.name+` SET used_at = ? WHERE `+t.owner+` = ? AND hash = ? AND used_at IS NULL`,
		at.UnixMicro(), ownerID, blob(hash))
	if err != nil {
		return fmt.Errorf("sqlite: use recovery code: %w", unavailable(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("recovery code")
	}
	return nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count recovery codes: %w", err)
	}
	return n, nil
}
