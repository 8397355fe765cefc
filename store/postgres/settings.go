package postgres

import (
	"context"
)

// GetSetting returns the document stored under key, byte for byte.
func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	if !storable(key) {
		return nil, notFound("setting")
	}
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	return v, mapErr(err, "setting")
}

// PutSetting stores (or replaces) the document under key.
func (s *Store) PutSetting(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return mapErr(err, "setting")
}
