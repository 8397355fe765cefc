package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// CreateMagicLink stores a link (its token's hash only).
func (s *Store) CreateMagicLink(ctx context.Context, l *sessionmanager.MagicLink) error {
	if len(l.Hash) == 0 || l.CreatedAt.IsZero() || l.ExpiresAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"magicLink": "hash, createdAt and expiresAt are required"})
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO magic_links (hash, email, user_id, ip, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, l.Hash, l.Email, l.UserID, l.IP, l.CreatedAt.UnixMicro(), l.ExpiresAt.UnixMicro(), micro(l.UsedAt))
	if isUnique(err) {
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a magic link with this hash already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create magic link: %w", err)
	}
	return nil
}

// ConsumeMagicLink marks the link used if it is unused and unexpired at now.
// The guarded UPDATE lets exactly one of concurrent calls win.
func (s *Store) ConsumeMagicLink(ctx context.Context, hash []byte, now time.Time) (*sessionmanager.MagicLink, error) {
	var l *sessionmanager.MagicLink
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			m                      sessionmanager.MagicLink
			created, expires, used int64
		)
		err := tx.QueryRowContext(ctx, `UPDATE magic_links SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING hash, email, user_id, ip, created_at, expires_at, used_at`, now.UnixMicro(), hash, now.UnixMicro()).
			Scan(&m.Hash, &m.Email, &m.UserID, &m.IP, &created, &expires, &used)
		if err == nil {
			m.CreatedAt, m.ExpiresAt, m.UsedAt = timeOf(created), timeOf(expires), timeOf(used)
			l = &m
			return nil
		}
		if !isNoRows(err) {
			return fmt.Errorf("sqlite: consume magic link: %w", err)
		}
		var usedAt sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT used_at FROM magic_links WHERE hash = ?`, hash).Scan(&usedAt)
		switch {
		case isNoRows(err):
			return linkError("link_unknown", "this sign-in link is not valid")
		case err != nil:
			return fmt.Errorf("sqlite: consume magic link: %w", err)
		case usedAt.Valid:
			return linkError("link_used", "this sign-in link has already been used")
		default:
			return linkError("link_expired", "this sign-in link has expired")
		}
	})
	return l, err
}

// linkError is the EINVALID error of a link that cannot be used.
func linkError(reason, msg string) error {
	return &sessionmanager.Error{Code: sessionmanager.EINVALID, Reason: reason, Message: msg}
}
