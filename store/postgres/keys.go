package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// CreateSigningKey stores a signing key; a duplicate id is ECONFLICT.
func (s *Store) CreateSigningKey(ctx context.Context, k *sm.SigningKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_sealed, public, created_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Algorithm, nullBytes(k.PrivateSealed), nullBytes(k.Public), k.CreatedAt, nullTime(k.RetiredAt), nullTime(k.ExpiresAt))
	return mapErr(err, "signing key")
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*sm.SigningKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, algorithm, private_sealed, public, created_at, retired_at, expires_at
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr(err, "signing keys")
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.SigningKey, error) {
		var k sm.SigningKey
		err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateSealed, &k.Public, utc(&k.CreatedAt), utc(&k.RetiredAt), utc(&k.ExpiresAt))
		return &k, err
	})
	if err != nil {
		return nil, mapErr(err, "signing keys")
	}
	if keys == nil {
		keys = []*sm.SigningKey{}
	}
	return keys, nil
}

// UpdateSigningKey sets when a key retires and expires (zero clears).
func (s *Store) UpdateSigningKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error {
	if !storable(id) {
		return notFound("signing key")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE signing_keys SET retired_at = $2, expires_at = $3 WHERE id = $1`,
		id, nullTime(retiredAt), nullTime(expiresAt))
	if err != nil {
		return mapErr(err, "signing key")
	}
	if tag.RowsAffected() == 0 {
		return notFound("signing key")
	}
	return nil
}
