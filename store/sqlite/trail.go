package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// appendTrail appends one entry to a live session's trail and keeps the
// newest MaxTrail by time (ties: the earlier written first), oldest first.
// Times order to the millisecond (SQLite's date functions); the entries
// keep their microseconds. The suspected mark moves only forward in time.
// Every right-hand side reads the row as it was, so suspected_at in the
// last CASE is the old one.
var appendTrail = `UPDATE sessions SET
	trail = (SELECT json_group_array(json(e) ORDER BY at, k) FROM (
		SELECT value AS e, unixepoch(json_extract(value, '$.at'), 'subsec') AS at, key AS k
		FROM json_each(json_insert(sessions.trail, '$[#]', json(?1)))
		ORDER BY at DESC, k DESC LIMIT ` + strconv.Itoa(sessionmanager.MaxTrail) + `)),
	suspected = CASE WHEN ?2 <> '' AND (suspected_at IS NULL OR suspected_at <= ?3) THEN ?2 ELSE suspected END,
	suspected_at = CASE WHEN ?2 <> '' AND (suspected_at IS NULL OR suspected_at <= ?3) THEN ?3 ELSE suspected_at END
	WHERE id = ?4 AND status <> 'ended'`

// AppendTrail appends each note's entry to its live session's trail (the
// newest MaxTrail kept) and marks the session suspected when the note
// says so, all notes in one transaction; notes for missing or ended
// sessions change nothing.
func (s *Store) AppendTrail(ctx context.Context, notes []sessionmanager.TrailNote) error {
	if len(notes) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, appendTrail)
		if err != nil {
			return fmt.Errorf("sqlite: append trail: %w", err)
		}
		defer stmt.Close()
		for _, n := range notes {
			entry, err := json.Marshal(sessionmanager.StoredTrailEntry(n.Entry))
			if err != nil {
				return fmt.Errorf("sqlite: append trail: %w", err)
			}
			if _, err := stmt.ExecContext(ctx, string(entry), n.Suspected, n.Entry.At.UnixMicro(), n.SessionID); err != nil {
				return fmt.Errorf("sqlite: append trail: %w", err)
			}
		}
		return nil
	})
}
