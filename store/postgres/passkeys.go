package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const passkeyColumns = `id, credential_id, user_id, name, public_key, sign_count, transports, aaguid,
	backup_eligible, backup_state, user_verified, attestation_type, attestation_format, attachment, created_at, last_used_at`

// CreatePasskey inserts a passkey; a credential id registered before is ECONFLICT.
func (s *Store) CreatePasskey(ctx context.Context, p *sm.Passkey) error {
	if p.ID == "" || len(p.CredentialID) == 0 || len(p.PublicKey) == 0 || p.UserID == "" || p.CreatedAt.IsZero() {
		return sm.InvalidFields(map[string]string{"passkey": "id, credentialId, publicKey, userId and createdAt are required"})
	}
	transports := p.Transports
	if transports == nil {
		transports = []string{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		p.ID, p.CredentialID, p.UserID, p.Name, p.PublicKey, int64(p.SignCount), transports, nullBytes(p.AAGUID),
		p.BackupEligible, p.BackupState, p.UserVerified, p.AttestationType, p.AttestationFormat, p.Attachment,
		p.CreatedAt, nullTime(p.LastUsedAt))
	if e := mapErr(err, "passkey"); sm.ErrorCode(e) == sm.ECONFLICT {
		return sm.Errorf(sm.ECONFLICT, "this passkey is already registered")
	} else if e != nil {
		return e
	}
	return nil
}

func scanPasskey(r pgx.Row) (*sm.Passkey, error) {
	var (
		p     sm.Passkey
		count int64
	)
	if err := r.Scan(&p.ID, &p.CredentialID, &p.UserID, &p.Name, &p.PublicKey, &count, &p.Transports, &p.AAGUID,
		&p.BackupEligible, &p.BackupState, &p.UserVerified, &p.AttestationType, &p.AttestationFormat, &p.Attachment,
		utc(&p.CreatedAt), utc(&p.LastUsedAt)); err != nil {
		return nil, err
	}
	if p.Transports == nil {
		p.Transports = []string{}
	}
	p.SignCount = uint32(count)
	return &p, nil
}

// PasskeysByUser lists the user's passkeys, oldest first.
func (s *Store) PasskeysByUser(ctx context.Context, userID string) ([]*sm.Passkey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, mapErr(err, "passkeys")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.Passkey, error) { return scanPasskey(r) })
	if err != nil {
		return nil, mapErr(err, "passkeys")
	}
	if out == nil {
		out = []*sm.Passkey{}
	}
	return out, nil
}

// CountPasskeys counts the user's passkeys.
func (s *Store) CountPasskeys(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM passkeys WHERE user_id = $1`, userID).Scan(&n)
	return n, mapErr(err, "passkeys")
}

// PasskeyByCredentialID finds a passkey by its credential id.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*sm.Passkey, error) {
	p, err := scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = $1`, credentialID))
	if err != nil {
		return nil, mapErr(err, "passkey")
	}
	return p, nil
}

// RecordPasskeyUse stores a verified assertion's counter in one guarded
// UPDATE: the counter moves forward, or stays 0 for an authenticator
// without one; anything else is ECONFLICT and changes nothing.
func (s *Store) RecordPasskeyUse(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE passkeys SET sign_count = $2, backup_state = $3, last_used_at = $4
		WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`, id, int64(signCount), backupState, at)
	if err != nil {
		return mapErr(err, "passkey")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = $1)`, id).Scan(&exists); err != nil {
		return mapErr(err, "passkey")
	}
	if !exists {
		return sm.Errorf(sm.ENOTFOUND, "passkey not found")
	}
	return &sm.Error{Code: sm.ECONFLICT, Reason: "passkey_counter", Message: "the passkey's signature counter did not advance"}
}

// RenamePasskey renames one of the user's passkeys.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2`, id, userID, name)
	return affected(tag.RowsAffected(), err, "passkey")
}

// DeletePasskey removes one of the user's passkeys.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	return affected(tag.RowsAffected(), err, "passkey")
}

// affected maps a statement that changed no row to ENOTFOUND.
func affected(n int64, err error, what string) error {
	if err != nil {
		return mapErr(err, what)
	}
	if n == 0 {
		return sm.Errorf(sm.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// DeleteUserPasskeys removes the user's passkeys and pending ceremonies.
func (s *Store) DeleteUserPasskeys(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM passkey_ceremonies WHERE user_id = $1`, userID)
		return err
	})
	return int(n), mapErr(err, "passkeys")
}

// CreatePasskeyCeremony stores a ceremony and drops the expired ones.
func (s *Store) CreatePasskeyCeremony(ctx context.Context, c *sm.PasskeyCeremony) error {
	if len(c.Hash) == 0 || c.Purpose == "" || len(c.State) == 0 || c.CreatedAt.IsZero() || c.ExpiresAt.IsZero() {
		return sm.InvalidFields(map[string]string{"ceremony": "hash, purpose, state, createdAt and expiresAt are required"})
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at <= $1`, c.CreatedAt); err != nil {
		return mapErr(err, "ceremony")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO passkey_ceremonies (hash, purpose, user_id, session_id, challenge_id, state, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.Hash, c.Purpose, c.UserID, c.SessionID, c.ChallengeID, c.State, c.CreatedAt, c.ExpiresAt)
	return mapErr(err, "ceremony")
}

// ConsumePasskeyCeremony deletes and returns an unexpired ceremony; the
// DELETE ... RETURNING lets exactly one of concurrent calls have it.
func (s *Store) ConsumePasskeyCeremony(ctx context.Context, hash []byte, now time.Time) (*sm.PasskeyCeremony, error) {
	var c sm.PasskeyCeremony
	err := s.pool.QueryRow(ctx, `DELETE FROM passkey_ceremonies WHERE hash = $1 AND expires_at > $2
		RETURNING hash, purpose, user_id, session_id, challenge_id, state, created_at, expires_at`, hash, now).
		Scan(&c.Hash, &c.Purpose, &c.UserID, &c.SessionID, &c.ChallengeID, &c.State, utc(&c.CreatedAt), utc(&c.ExpiresAt))
	if err != nil {
		return nil, mapErr(err, "ceremony")
	}
	return &c, nil
}
