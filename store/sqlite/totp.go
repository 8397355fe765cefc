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

// ReplaceRecoveryCodes replaces all of the user's recovery codes in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: delete recovery codes: %w", err)
		}
		for _, h := range hashes {
			_, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`, userID, blob(h), at.UnixMicro())
			switch {
			case isForeignKey(err):
				return notFound("user")
			case isUnique(err):
				return sessionmanager.Errorf(sessionmanager.ECONFLICT, "two recovery codes with one hash")
			case err != nil:
				return fmt.Errorf("sqlite: insert recovery code: %w", err)
			}
		}
		return nil
	})
}

// UseRecoveryCode spends an unused code in one guarded UPDATE.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`,
		at.UnixMicro(), userID, blob(hash))
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
