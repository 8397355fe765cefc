package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const trustedDeviceColumns = `id, user_id, hash, name, ip, created_at, last_used_at, expires_at`

func scanTrustedDevice(row pgx.Row) (*sm.TrustedDevice, error) {
	var d sm.TrustedDevice
	if err := row.Scan(&d.ID, &d.UserID, &d.Hash, &d.Name, &d.IP, utc(&d.CreatedAt), utc(&d.LastUsedAt), utc(&d.ExpiresAt)); err != nil {
		return nil, err
	}
	return &d, nil
}

// CreateTrustedDevice stores a remembered device (its token's keyed hash only).
func (s *Store) CreateTrustedDevice(ctx context.Context, d *sm.TrustedDevice) error {
	if d.ID == "" || d.UserID == "" || len(d.Hash) == 0 || d.CreatedAt.IsZero() || d.ExpiresAt.IsZero() {
		return sm.InvalidFields(map[string]string{"trustedDevice": "id, userId, hash, createdAt and expiresAt are required"})
	}
	used := d.LastUsedAt
	if used.IsZero() {
		used = d.CreatedAt
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO trusted_devices (`+trustedDeviceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		d.ID, d.UserID, d.Hash, d.Name, d.IP, d.CreatedAt, used, d.ExpiresAt)
	return mapErr(err, "trusted device")
}

// UseTrustedDevice finds the user's unexpired device of hash and notes its use.
func (s *Store) UseTrustedDevice(ctx context.Context, userID string, hash []byte, now time.Time) (*sm.TrustedDevice, error) {
	if !storable(userID) || userID == "" || len(hash) == 0 {
		return nil, notFound("trusted device")
	}
	d, err := scanTrustedDevice(s.pool.QueryRow(ctx, `UPDATE trusted_devices SET last_used_at = GREATEST(last_used_at, $3)
		WHERE hash = $1 AND user_id = $2 AND expires_at > $3 RETURNING `+trustedDeviceColumns, hash, userID, now))
	return d, mapErr(err, "trusted device")
}

// ListTrustedDevices lists the user's devices unexpired at now, newest first.
func (s *Store) ListTrustedDevices(ctx context.Context, userID string, now time.Time) ([]*sm.TrustedDevice, error) {
	out := []*sm.TrustedDevice{}
	if !storable(userID) {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+trustedDeviceColumns+` FROM trusted_devices
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id LIMIT 500`, userID, now)
	if err != nil {
		return nil, mapErr(err, "trusted device")
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanTrustedDevice(rows)
		if err != nil {
			return nil, mapErr(err, "trusted device")
		}
		out = append(out, d)
	}
	return out, mapErr(rows.Err(), "trusted device")
}

// DeleteTrustedDevices deletes the user's device id (all when id is "").
func (s *Store) DeleteTrustedDevices(ctx context.Context, userID, id string) (int, error) {
	if !storable(userID) || !storable(id) {
		return 0, nil
	}
	q, args := `DELETE FROM trusted_devices WHERE user_id = $1`, []any{userID}
	if id != "" {
		q, args = q+` AND id = $2`, append(args, id)
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, mapErr(err, "trusted device")
	}
	return int(tag.RowsAffected()), nil
}

var _ sm.TrustedDeviceStore = (*Store)(nil)
