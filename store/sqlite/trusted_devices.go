package sqlite

import (
	"context"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

const trustedDeviceColumns = `id, user_id, hash, name, ip, created_at, last_used_at, expires_at`

func scanTrustedDevice(row rowScanner) (*sessionmanager.TrustedDevice, error) {
	var (
		d                      sessionmanager.TrustedDevice
		created, used, expires int64
	)
	if err := row.Scan(&d.ID, &d.UserID, &d.Hash, &d.Name, &d.IP, &created, &used, &expires); err != nil {
		return nil, err
	}
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt = timeOf(created), timeOf(used), timeOf(expires)
	return &d, nil
}

// CreateTrustedDevice stores a remembered device (its token's keyed hash only).
func (s *Store) CreateTrustedDevice(ctx context.Context, d *sessionmanager.TrustedDevice) error {
	if d.ID == "" || d.UserID == "" || len(d.Hash) == 0 || d.CreatedAt.IsZero() || d.ExpiresAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"trustedDevice": "id, userId, hash, createdAt and expiresAt are required"})
	}
	used := d.LastUsedAt
	if used.IsZero() {
		used = d.CreatedAt
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO trusted_devices (`+trustedDeviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Hash, d.Name, d.IP, d.CreatedAt.UnixMicro(), used.UnixMicro(), d.ExpiresAt.UnixMicro())
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a trusted device with this id or hash already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create trusted device: %w", err)
	}
	return nil
}

// UseTrustedDevice finds the user's unexpired device of hash and notes its use.
func (s *Store) UseTrustedDevice(ctx context.Context, userID string, hash []byte, now time.Time) (*sessionmanager.TrustedDevice, error) {
	if userID == "" || len(hash) == 0 {
		return nil, notFound("trusted device")
	}
	d, err := scanTrustedDevice(s.write.QueryRowContext(ctx, `UPDATE trusted_devices SET last_used_at = max(last_used_at, ?)
		WHERE hash = ? AND user_id = ? AND expires_at > ? RETURNING `+trustedDeviceColumns, now.UnixMicro(), hash, userID, now.UnixMicro()))
	if isNoRows(err) {
		return nil, notFound("trusted device")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: use trusted device: %w", err)
	}
	return d, nil
}

// ListTrustedDevices lists the user's devices unexpired at now, newest first.
func (s *Store) ListTrustedDevices(ctx context.Context, userID string, now time.Time) ([]*sessionmanager.TrustedDevice, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+trustedDeviceColumns+` FROM trusted_devices
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id LIMIT 500`, userID, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list trusted devices: %w", err)
	}
	defer rows.Close()
	out := []*sessionmanager.TrustedDevice{}
	for rows.Next() {
		d, err := scanTrustedDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list trusted devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list trusted devices: %w", err)
	}
	return out, nil
}

// DeleteTrustedDevices deletes the user's device id (all when id is "").
func (s *Store) DeleteTrustedDevices(ctx context.Context, userID, id string) (int, error) {
	q, args := `DELETE FROM trusted_devices WHERE user_id = ?`, []any{userID}
	if id != "" {
		q, args = q+` AND id = ?`, append(args, id)
	}
	res, err := s.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete trusted devices: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete trusted devices: %w", err)
	}
	return int(n), nil
}

var _ sessionmanager.TrustedDeviceStore = (*Store)(nil)
