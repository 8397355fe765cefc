package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const magicLinkColumns = `hash, email, user_id, ip, created_at, expires_at, used_at`

// CreateMagicLink stores a link by its token's hash.
func (s *Store) CreateMagicLink(ctx context.Context, l *sm.MagicLink) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO magic_links (`+magicLinkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		l.Hash, l.Email, l.UserID, l.IP, l.CreatedAt, l.ExpiresAt, nullTime(l.UsedAt))
	return mapErr(err, "magic link")
}

// ConsumeMagicLink marks the link used in one conditional UPDATE, so of
// concurrent calls exactly one succeeds; the others learn why they failed.
func (s *Store) ConsumeMagicLink(ctx context.Context, hash []byte, now time.Time) (*sm.MagicLink, error) {
	var l sm.MagicLink
	err := s.pool.QueryRow(ctx, `UPDATE magic_links SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING `+magicLinkColumns, hash, now).
		Scan(&l.Hash, &l.Email, &l.UserID, &l.IP, utc(&l.CreatedAt), utc(&l.ExpiresAt), utc(&l.UsedAt))
	if err == nil {
		return &l, nil
	}
	if err != pgx.ErrNoRows {
		return nil, mapErr(err, "magic link")
	}
	var used bool
	err = s.pool.QueryRow(ctx, `SELECT used_at IS NOT NULL FROM magic_links WHERE hash = $1`, hash).Scan(&used)
	switch {
	case err == pgx.ErrNoRows:
		return nil, &sm.Error{Code: sm.EINVALID, Reason: "link_unknown", Message: "this sign-in link is not valid"}
	case err != nil:
		return nil, mapErr(err, "magic link")
	case used:
		return nil, &sm.Error{Code: sm.EINVALID, Reason: "link_used", Message: "this sign-in link has already been used"}
	}
	return nil, &sm.Error{Code: sm.EINVALID, Reason: "link_expired", Message: "this sign-in link has expired"}
}
