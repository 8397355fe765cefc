package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// EraseUser clears the user's personal data in one transaction: email and
// username become "erased-<id>", the password hash goes; the user's sessions
// lose IP, user agent and location; the user's events lose IP, user agent
// and personal data but keep PersonalDigest, so the chain still verifies.
// Pending magic links for the user are deleted.
func (s *Store) EraseUser(ctx context.Context, userID string, at time.Time) error {
	if !storable(userID) {
		return notFound("user")
	}
	return retryDeadlock(ctx, func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			var oldEmail string
			err := tx.QueryRow(ctx, `UPDATE users u SET email = 'erased-' || u.id || '@erased.invalid',
				username = 'erased-' || u.id, password_hash = '', updated_at = $2,
				email_key = 'erased-' || u.id || '@erased.invalid', username_key = 'erased-' || u.id
			FROM (SELECT id, email FROM users WHERE id = $1 FOR UPDATE) old
			WHERE u.id = old.id RETURNING old.email`, userID, at).Scan(&oldEmail)
			if err != nil {
				return mapErr(err, "user")
			}
			if _, err := tx.Exec(ctx, `UPDATE sessions SET ip = '', ip_net = NULL, user_agent = '',
			location = '{}', country_code = '', city = '' WHERE user_id = $1`, userID); err != nil {
				return mapErr(err, "sessions")
			}
			if _, err := tx.Exec(ctx, `UPDATE events SET ip = '', user_agent = '', personal = NULL, erased = true
			WHERE user_id = $1`, userID); err != nil {
				return mapErr(err, "events")
			}
			_, err = tx.Exec(ctx, `DELETE FROM magic_links WHERE user_id = $1 OR (lower(email) = lower($2) AND $2 <> '')`,
				userID, oldEmail)
			return mapErr(err, "magic links")
		})
	})
}
