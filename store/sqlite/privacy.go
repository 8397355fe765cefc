package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// EraseUser clears the personal data of a user, its sessions, its events
// (by user id, and the unattributed events whose personal fields name its
// email or username), the alert deliveries of those events (pending ones
// end as dead) and its magic links, in one transaction. Events keep
// PersonalDigest, so the chain verifies.
func (s *Store) EraseUser(ctx context.Context, userID string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var email, username string
		err := tx.QueryRowContext(ctx, `SELECT email, username FROM users WHERE id = ?`, userID).Scan(&email, &username)
		if isNoRows(err) {
			return notFound("user")
		}
		if err != nil {
			return fmt.Errorf("sqlite: erase user: %w", err)
		}
		erased := "erased-" + userID
		res, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, email_key = ?, username = ?, username_key = ?,
			password_hash = '', updated_at = ? WHERE id = ?`,
			erased+"@erased.invalid", erased+"@erased.invalid", erased, erased, at.UnixMicro(), userID)
		if isUnique(err) {
			return fmt.Errorf("sqlite: erase user: the erased name of %s is taken", userID)
		}
		if err := mustAffect(res, err, "user"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ip = '', ip_bin = NULL, user_agent = '',
			country_code = '', city = '', location = '{}', device_id = '', trail = '[]' WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: erase user sessions: %w", err)
		}
		const eraseEvents = `UPDATE events SET ip = '', user_agent = '', personal = NULL, erased = 1 WHERE `
		if _, err := tx.ExecContext(ctx, eraseEvents+`user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: erase user events: %w", err)
		}
		named, err := queryAll(ctx, tx, "erase user events", scanSeqPersonal,
			`SELECT seq, personal FROM events WHERE user_id = '' AND personal IS NOT NULL AND erased = 0`)
		if err != nil {
			return err
		}
		// Alerts about those events carry the same data (user, IP, location).
		const eraseDeliveries = `UPDATE deliveries SET payload = ?, target = NULL,
			last_error = CASE WHEN status = ? THEN ? ELSE last_error END,
			status = CASE WHEN status = ? THEN ? ELSE status END WHERE `
		deliveryArgs := []any{sessionmanager.ErasedPayload, sessionmanager.DeliveryPending, sessionmanager.ErasedDeliveryError,
			sessionmanager.DeliveryPending, sessionmanager.DeliveryDead}
		if _, err := tx.ExecContext(ctx, eraseDeliveries+`event_seq IN (SELECT seq FROM events WHERE user_id = ?)`,
			append(deliveryArgs, userID)...); err != nil {
			return fmt.Errorf("sqlite: erase user deliveries: %w", err)
		}
		for _, e := range named {
			if !sessionmanager.PersonalNames(e.Personal, email, username) {
				continue
			}
			if _, err := tx.ExecContext(ctx, eraseEvents+`seq = ?`, e.Seq); err != nil {
				return fmt.Errorf("sqlite: erase user events: %w", err)
			}
			if _, err := tx.ExecContext(ctx, eraseDeliveries+`event_seq = ?`, append(deliveryArgs, e.Seq)...); err != nil {
				return fmt.Errorf("sqlite: erase user deliveries: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM magic_links WHERE user_id = ? OR (email <> '' AND lower(email) = lower(?))`,
			userID, email); err != nil {
			return fmt.Errorf("sqlite: erase user magic links: %w", err)
		}
		// Pending challenges keep the attempt's address and user agent;
		// second factors are credentials, not history: erased with the user.
		for _, q := range []string{`DELETE FROM challenges WHERE user_id = ?`, `DELETE FROM user_totp WHERE user_id = ?`, `DELETE FROM recovery_codes WHERE user_id = ?`,
			`DELETE FROM passkeys WHERE user_id = ?`, `DELETE FROM passkey_ceremonies WHERE user_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return fmt.Errorf("sqlite: erase user factors and challenges: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM trusted_devices WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: erase user trusted devices: %w", err)
		}
		return nil
	})
}

// scanSeqPersonal reads (seq, personal) of an event.
func scanSeqPersonal(row rowScanner) (*sessionmanager.Event, error) {
	var e sessionmanager.Event
	var personal []byte
	if err := row.Scan(&e.Seq, &personal); err != nil {
		return nil, err
	}
	e.Personal = personal
	return &e, nil
}
