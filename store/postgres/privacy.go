package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// EraseUser clears the user's personal data in one transaction: email and
// username become "erased-<id>", the password hash goes; the user's sessions
// lose IP, user agent and location; the user's events, and the
// unattributed events whose personal fields name its email or username
// (sm.PersonalNames), lose IP, user agent and personal data but keep
// PersonalDigest, so the chain still verifies; the alert deliveries of
// those events lose payload and target (pending ones end as dead). The
// user's magic links are deleted.
func (s *Store) EraseUser(ctx context.Context, userID string, at time.Time) error {
	if !storable(userID) {
		return notFound("user")
	}
	return retryDeadlock(ctx, func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			var oldEmail, oldUsername string
			err := tx.QueryRow(ctx, `UPDATE users u SET email = 'erased-' || u.id || '@erased.invalid',
				username = 'erased-' || u.id, password_hash = '', updated_at = $2,
				email_key = 'erased-' || u.id || '@erased.invalid', username_key = 'erased-' || u.id
			FROM (SELECT id, email, username FROM users WHERE id = $1 FOR UPDATE) old
			WHERE u.id = old.id RETURNING old.email, old.username`, userID, at).Scan(&oldEmail, &oldUsername)
			if err != nil {
				return mapErr(err, "user")
			}
			if _, err := tx.Exec(ctx, `UPDATE sessions SET ip = '', ip_net = NULL, user_agent = '',
			location = '{}', country_code = '', city = '', device_id = '', trail = '[]' WHERE user_id = $1`, userID); err != nil {
				return mapErr(err, "sessions")
			}
			if _, err := tx.Exec(ctx, `UPDATE events SET ip = '', user_agent = '', personal = NULL, erased = true
			WHERE user_id = $1`, userID); err != nil {
				return mapErr(err, "events")
			}
			rows, err := tx.Query(ctx, `SELECT seq, personal FROM events
			WHERE user_id = '' AND personal IS NOT NULL AND NOT erased`)
			if err != nil {
				return mapErr(err, "events")
			}
			var named []int64
			var seq int64
			var personal []byte
			_, err = pgx.ForEachRow(rows, []any{&seq, &personal}, func() error {
				if sm.PersonalNames(personal, oldEmail, oldUsername) {
					named = append(named, seq)
				}
				return nil
			})
			if err != nil {
				return mapErr(err, "events")
			}
			if len(named) > 0 {
				if _, err := tx.Exec(ctx, `UPDATE events SET ip = '', user_agent = '', personal = NULL, erased = true
				WHERE seq = ANY($1::bigint[])`, named); err != nil {
					return mapErr(err, "events")
				}
			}
			// Alerts about those events carry the same data (user, IP, location).
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET payload = $1, target = NULL,
				last_error = CASE WHEN status = $2 THEN $3 ELSE last_error END,
				status = CASE WHEN status = $2 THEN $4 ELSE status END
			WHERE event_seq IN (SELECT seq FROM events WHERE user_id = $5) OR event_seq = ANY($6::bigint[])`,
				[]byte(sm.ErasedPayload), sm.DeliveryPending, sm.ErasedDeliveryError, sm.DeliveryDead, userID, named); err != nil {
				return mapErr(err, "deliveries")
			}
			if _, err = tx.Exec(ctx, `DELETE FROM magic_links WHERE user_id = $1 OR (lower(email) = lower($2) AND $2 <> '')`,
				userID, oldEmail); err != nil {
				return mapErr(err, "magic links")
			}
			// Pending challenges keep the attempt's address and user agent;
			// second factors are credentials, not history: erased with the user.
			for _, q := range []string{`DELETE FROM challenges WHERE user_id = $1`, `DELETE FROM user_totp WHERE user_id = $1`, `DELETE FROM recovery_codes WHERE user_id = $1`,
				`DELETE FROM passkeys WHERE user_id = $1`, `DELETE FROM passkey_ceremonies WHERE user_id = $1`,
				`DELETE FROM trusted_devices WHERE user_id = $1`} {
				if _, err := tx.Exec(ctx, q, userID); err != nil {
					return mapErr(err, "user factors")
				}
			}
			return nil
		})
	})
}
