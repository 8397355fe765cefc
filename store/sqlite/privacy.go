package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// EraseUser clears the personal data of a user, its sessions and its events
// in one transaction. Events keep PersonalDigest, so the chain verifies.
func (s *Store) EraseUser(ctx context.Context, userID string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
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
			country_code = '', city = '', location = '{}' WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: erase user sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET ip = '', user_agent = '', personal = NULL, erased = 1
			WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlite: erase user events: %w", err)
		}
		return nil
	})
}
