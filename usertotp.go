package sessionmanager

import (
	"context"
	"time"
)

// UserTOTP is an end user's TOTP enrolment: the active secret and a new one
// awaiting its first code, both sealed (Secrets.Seal with
// userTOTPAdditionalData), never in clear.
type UserTOTP struct {
	UserID string
	// Sealed is the active secret; nil until a secret was confirmed.
	Sealed      []byte
	ConfirmedAt time.Time
	// PendingSealed is a secret shown to the user and not confirmed yet;
	// nil when none. Confirming it replaces Sealed.
	PendingSealed []byte
	PendingAt     time.Time
}

// Active reports whether the user signs in with TOTP.
func (t *UserTOTP) Active() bool { return t != nil && len(t.Sealed) > 0 }

// TOTPStore keeps end users' TOTP secrets (sealed) and recovery codes (keyed
// hashes only). Single use lives in the SQL: of concurrent calls that spend
// one code, exactly one wins.
type TOTPStore interface {
	// UserTOTP returns the user's enrolment, ENOTFOUND when there is none.
	UserTOTP(ctx context.Context, userID string) (*UserTOTP, error)
	// SetPendingTOTP stores a secret awaiting confirmation, replacing an
	// earlier pending one; the active secret stays.
	SetPendingTOTP(ctx context.Context, userID string, sealed []byte, at time.Time) error
	// ConfirmTOTP makes the pending secret the active one if it is still
	// sealed (byte for byte); else ECONFLICT (a newer enrolment replaced it,
	// or it was confirmed already).
	ConfirmTOTP(ctx context.Context, userID string, sealed []byte, at time.Time) error
	// DeleteUserTOTP removes the user's TOTP, active and pending;
	// removed=false when there was none.
	DeleteUserTOTP(ctx context.Context, userID string) (removed bool, err error)
	// ReplaceRecoveryCodes deletes every recovery code of the user and
	// stores these hashes (none: only deletes), in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode marks the user's unused code with this hash used;
	// ENOTFOUND when no unused code of the user has it.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}
