package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

const passkeyColumns = `id, credential_id, user_id, name, public_key, sign_count, transports, aaguid,
	backup_eligible, backup_state, user_verified, attestation_type, attestation_format, attachment, created_at, last_used_at`

// CreatePasskey inserts a passkey; a credential id registered before is ECONFLICT.
func (s *Store) CreatePasskey(ctx context.Context, p *sessionmanager.Passkey) error {
	if p.ID == "" || len(p.CredentialID) == 0 || len(p.PublicKey) == 0 || p.UserID == "" || p.CreatedAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"passkey": "id, credentialId, publicKey, userId and createdAt are required"})
	}
	transports := p.Transports
	if transports == nil {
		transports = []string{}
	}
	tj, err := json.Marshal(transports)
	if err != nil {
		return fmt.Errorf("sqlite: create passkey: %w", err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.CredentialID, p.UserID, p.Name, p.PublicKey, int64(p.SignCount), string(tj), blob(p.AAGUID),
		bit(p.BackupEligible), bit(p.BackupState), bit(p.UserVerified), p.AttestationType, p.AttestationFormat, p.Attachment,
		p.CreatedAt.UnixMicro(), micro(p.LastUsedAt))
	switch {
	case isUnique(err):
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "this passkey is already registered")
	case isForeignKey(err):
		return sessionmanager.Errorf(sessionmanager.EINVALID, "passkey refers to a user that does not exist")
	case err != nil:
		return unavailable(fmt.Errorf("sqlite: create passkey: %w", err))
	}
	return nil
}

func scanPasskey(r rowScanner) (*sessionmanager.Passkey, error) {
	var (
		p              sessionmanager.Passkey
		count, created int64
		used           sql.NullInt64
		transports     string
		aaguid         []byte
		be, bs, uv     int
	)
	if err := r.Scan(&p.ID, &p.CredentialID, &p.UserID, &p.Name, &p.PublicKey, &count, &transports, &aaguid,
		&be, &bs, &uv, &p.AttestationType, &p.AttestationFormat, &p.Attachment, &created, &used); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(transports), &p.Transports); err != nil {
		return nil, fmt.Errorf("passkey transports: %w", err)
	}
	if p.Transports == nil {
		p.Transports = []string{}
	}
	p.SignCount, p.AAGUID = uint32(count), aaguid
	p.BackupEligible, p.BackupState, p.UserVerified = be != 0, bs != 0, uv != 0
	p.CreatedAt, p.LastUsedAt = timeOf(created), fromMicro(used)
	return &p, nil
}

// PasskeysByUser lists the user's passkeys, oldest first.
func (s *Store) PasskeysByUser(ctx context.Context, userID string) ([]*sessionmanager.Passkey, error) {
	out, err := queryAll(ctx, s.read, "passkeys by user", scanPasskey,
		`SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if out == nil && err == nil {
		out = []*sessionmanager.Passkey{}
	}
	return out, err
}

// CountPasskeys counts the user's passkeys.
func (s *Store) CountPasskeys(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count passkeys: %w", err)
	}
	return n, nil
}

// PasskeyByCredentialID finds a passkey by its credential id.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*sessionmanager.Passkey, error) {
	p, err := scanPasskey(s.read.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = ?`, credentialID))
	switch {
	case isNoRows(err):
		return nil, notFound("passkey")
	case err != nil:
		return nil, fmt.Errorf("sqlite: passkey by credential id: %w", err)
	}
	return p, nil
}

// RecordPasskeyUse stores a verified assertion's counter in one guarded
// UPDATE: the counter moves forward, or stays 0 for an authenticator
// without one; anything else is ECONFLICT and changes nothing.
func (s *Store) RecordPasskeyUse(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
		int64(signCount), bit(backupState), at.UnixMicro(), id, int64(signCount), int64(signCount))
	if err != nil {
		return unavailable(fmt.Errorf("sqlite: record passkey use: %w", err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var exists int
	if err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE id = ?`, id).Scan(&exists); err != nil {
		return unavailable(fmt.Errorf("sqlite: record passkey use: %w", err))
	}
	if exists == 0 {
		return notFound("passkey")
	}
	return &sessionmanager.Error{Code: sessionmanager.ECONFLICT, Reason: "passkey_counter", Message: "the passkey's signature counter did not advance"}
}

// RenamePasskey renames one of the user's passkeys.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
	return unavailable(mustAffect(res, err, "passkey"))
}

// DeletePasskey removes one of the user's passkeys.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	return unavailable(mustAffect(res, err, "passkey"))
}

// DeleteUserPasskeys removes the user's passkeys and pending ceremonies.
func (s *Store) DeleteUserPasskeys(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = ?`, userID)
		if err != nil {
			return fmt.Errorf("sqlite: delete user passkeys: %w", err)
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: delete user ceremonies: %w", err)
		}
		return nil
	})
	return int(n), err
}

// CreatePasskeyCeremony stores a ceremony and drops the expired ones.
func (s *Store) CreatePasskeyCeremony(ctx context.Context, c *sessionmanager.PasskeyCeremony) error {
	if len(c.Hash) == 0 || c.Purpose == "" || len(c.State) == 0 || c.CreatedAt.IsZero() || c.ExpiresAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"ceremony": "hash, purpose, state, createdAt and expiresAt are required"})
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at <= ?`, c.CreatedAt.UnixMicro()); err != nil {
			return fmt.Errorf("sqlite: drop expired ceremonies: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO passkey_ceremonies (hash, purpose, user_id, session_id, challenge_id, state, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Hash, c.Purpose, c.UserID, c.SessionID, c.ChallengeID, c.State,
			c.CreatedAt.UnixMicro(), c.ExpiresAt.UnixMicro())
		if isUnique(err) {
			return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a ceremony with this challenge already exists")
		}
		if err != nil {
			return fmt.Errorf("sqlite: create ceremony: %w", err)
		}
		return nil
	})
}

// ConsumePasskeyCeremony deletes and returns an unexpired ceremony; the
// DELETE ... RETURNING lets exactly one of concurrent calls have it.
func (s *Store) ConsumePasskeyCeremony(ctx context.Context, hash []byte, now time.Time) (*sessionmanager.PasskeyCeremony, error) {
	var (
		c                sessionmanager.PasskeyCeremony
		created, expires int64
	)
	err := s.write.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE hash = ? AND expires_at > ?
		RETURNING hash, purpose, user_id, session_id, challenge_id, state, created_at, expires_at`, hash, now.UnixMicro()).
		Scan(&c.Hash, &c.Purpose, &c.UserID, &c.SessionID, &c.ChallengeID, &c.State, &created, &expires)
	switch {
	case isNoRows(err):
		return nil, notFound("ceremony")
	case err != nil:
		return nil, unavailable(fmt.Errorf("sqlite: consume ceremony: %w", err))
	}
	c.CreatedAt, c.ExpiresAt = timeOf(created), timeOf(expires)
	return &c, nil
}
