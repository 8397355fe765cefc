package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// appendTrail applies a batch of trail notes in one statement. The notes
// are grouped per session first (UPDATE ... FROM applies one joined row
// per target), their entries in time order; each trail keeps the newest
// MaxTrail entries by time (ties: the earlier written first), oldest
// first. The suspected mark is the batch's latest and moves only forward
// in time. Live rows are locked in id order before the update, so two
// instances flushing overlapping batches cannot deadlock on each other.
var appendTrail = `WITH notes AS (
		SELECT id, entry::jsonb AS entry, suspected, at, n
		FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS t(id, entry, suspected, at, n)),
	grouped AS (
		SELECT id, jsonb_agg(entry ORDER BY at, n) AS entries,
			(array_agg(suspected ORDER BY at DESC, n DESC) FILTER (WHERE suspected <> ''))[1] AS suspected,
			max(at) FILTER (WHERE suspected <> '') AS suspected_at
		FROM notes GROUP BY id),
	locked AS (
		SELECT s.id, grouped.entries, grouped.suspected, grouped.suspected_at
		FROM sessions s JOIN grouped ON grouped.id = s.id
		WHERE s.status <> 'ended' ORDER BY s.id FOR UPDATE OF s)
	UPDATE sessions s SET
		trail = (SELECT coalesce(jsonb_agg(e ORDER BY at, k), '[]'::jsonb) FROM (
			SELECT e, (e ->> 'at')::timestamptz AS at, k
			FROM jsonb_array_elements(s.trail || locked.entries) WITH ORDINALITY AS x(e, k)
			ORDER BY at DESC, k DESC LIMIT ` + strconv.Itoa(sm.MaxTrail) + `) newest),
		suspected = CASE WHEN locked.suspected IS NOT NULL AND (s.suspected_at IS NULL OR s.suspected_at <= locked.suspected_at)
			THEN locked.suspected ELSE s.suspected END,
		suspected_at = CASE WHEN locked.suspected IS NOT NULL AND (s.suspected_at IS NULL OR s.suspected_at <= locked.suspected_at)
			THEN locked.suspected_at ELSE s.suspected_at END
	FROM locked WHERE s.id = locked.id AND s.status <> 'ended'`

// AppendTrail appends each note's entry to its live session's trail (the
// newest MaxTrail kept) and marks the session suspected when the note says
// so, the whole batch in one statement; notes for missing or ended
// sessions change nothing.
func (s *Store) AppendTrail(ctx context.Context, notes []sm.TrailNote) error {
	if len(notes) == 0 {
		return nil
	}
	ids := make([]string, 0, len(notes))
	entries := make([]string, 0, len(notes))
	suspected := make([]string, 0, len(notes))
	ats := make([]time.Time, 0, len(notes))
	for _, n := range notes {
		if !storable(n.SessionID) || !storable(n.Suspected) {
			continue
		}
		entry, err := jsonText(sm.StoredTrailEntry(n.Entry))
		if err != nil {
			return fmt.Errorf("postgres: trail entry: %w", err)
		}
		ids = append(ids, n.SessionID)
		entries = append(entries, entry)
		suspected = append(suspected, n.Suspected)
		ats = append(ats, n.Entry.At)
	}
	err := retryDeadlock(ctx, func() error {
		_, err := s.pool.Exec(ctx, appendTrail, ids, entries, suspected, ats)
		return err
	})
	return mapErr(err, "sessions")
}
