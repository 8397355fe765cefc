package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// CreateSigningKey stores a new signing key; a duplicate id is ECONFLICT.
func (s *Store) CreateSigningKey(ctx context.Context, k *sessionmanager.SigningKey) error {
	if k.ID == "" || k.CreatedAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"signingKey": "id and createdAt are required"})
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_sealed, public, created_at, retired_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, k.ID, k.Algorithm, blob(k.PrivateSealed), blob(k.Public),
		k.CreatedAt.UnixMicro(), micro(k.RetiredAt), micro(k.ExpiresAt))
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a signing key with this id already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create signing key: %w", err)
	}
	return nil
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*sessionmanager.SigningKey, error) {
	return queryAll(ctx, s.read, "list signing keys", func(row rowScanner) (*sessionmanager.SigningKey, error) {
		var (
			k                sessionmanager.SigningKey
			created          int64
			retired, expires sql.NullInt64
		)
		if err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateSealed, &k.Public, &created, &retired, &expires); err != nil {
			return nil, err
		}
		k.CreatedAt, k.RetiredAt, k.ExpiresAt = timeOf(created), fromMicro(retired), fromMicro(expires)
		return &k, nil
	}, `SELECT id, algorithm, private_sealed, public, created_at, retired_at, expires_at FROM signing_keys ORDER BY created_at, id`)
}

// UpdateSigningKey sets when a key retires and expires (zero clears).
func (s *Store) UpdateSigningKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE id = ?`,
		micro(retiredAt), micro(expiresAt), id)
	return mustAffect(res, err, "signing key")
}
