package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const eventColumns = `seq, at, type, actor_type, actor_id, user_id, session_id, country, data,
	ip, user_agent, personal, erased, personal_digest, prev_hash, hash`

// scanEvent reads a row of eventColumns.
func scanEvent(row pgx.Row) (*sm.Event, error) {
	var e sm.Event
	var data, personal []byte
	err := row.Scan(&e.Seq, utc(&e.At), &e.Type, &e.ActorType, &e.ActorID, &e.UserID, &e.SessionID, &e.Country,
		&data, &e.IP, &e.UserAgent, &personal, &e.Erased, &e.PersonalDigest, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
	e.Data, e.Personal = data, personal
	return &e, nil
}

// AppendEvent seals e and appends it with its deliveries in one transaction.
// The row lock on the chain head serialises appends, so Seq has no gaps and
// every event links to the one before it.
func (s *Store) AppendEvent(ctx context.Context, e *sm.Event, deliveries []*sm.Delivery) error {
	if !storable(e.Type) {
		return sm.InvalidFields(map[string]string{"type": "is not valid text"})
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var seq int64
		var prev []byte
		if err := tx.QueryRow(ctx, `SELECT seq, hash FROM event_chain WHERE id = 1 FOR UPDATE`).Scan(&seq, &prev); err != nil {
			return mapErr(err, "event chain")
		}
		e.Seal(seq+1, prev)
		sealed := e
		_, err := tx.Exec(ctx, `INSERT INTO events (`+eventColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			sealed.Seq, sealed.At, sealed.Type, sealed.ActorType, sealed.ActorID, sealed.UserID, sealed.SessionID, sealed.Country,
			nullBytes(sealed.Data), sealed.IP, sealed.UserAgent, nullBytes(sealed.Personal), sealed.Erased,
			sealed.PersonalDigest, nullBytes(sealed.PrevHash), sealed.Hash)
		if err != nil {
			return mapErr(err, "event")
		}
		if err := insertDeliveries(ctx, tx, sealed, deliveries); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE event_chain SET seq = $1, hash = $2 WHERE id = 1`, sealed.Seq, sealed.Hash); err != nil {
			return mapErr(err, "event chain")
		}
		return nil
	})
}

// eventCursor is the Seq of the last event of a page.
type eventCursor struct {
	Seq int64 `json:"q"`
}

// ListEvents lists audit events in chain order (or newest first with Desc).
func (s *Store) ListEvents(ctx context.Context, f sm.EventFilter) ([]*sm.Event, string, error) {
	events := []*sm.Event{}
	limit := pageLimit(f.Limit)
	var q query
	for _, v := range append([]string{f.UserID, f.SessionID, f.ActorID}, f.Types...) {
		if !storable(v) {
			return events, "", nil
		}
	}
	if len(f.Types) > 0 {
		q.and("type = ANY(" + q.arg(f.Types) + "::text[])")
	}
	if f.UserID != "" {
		q.and("user_id = " + q.arg(f.UserID))
	}
	if f.SessionID != "" {
		q.and("session_id = " + q.arg(f.SessionID))
	}
	if f.ActorID != "" {
		q.and("actor_id = " + q.arg(f.ActorID))
	}
	if !f.From.IsZero() {
		q.and("at >= " + q.arg(f.From))
	}
	if !f.To.IsZero() {
		q.and("at < " + q.arg(f.To))
	}
	if f.AfterSeq > 0 {
		q.and("seq > " + q.arg(f.AfterSeq))
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	if f.Cursor != "" {
		var c eventCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		q.and("seq " + cmp + " " + q.arg(c.Seq))
	}
	sql := `SELECT ` + eventColumns + ` FROM events` + q.whereClause() + ` ORDER BY seq ` + dir + ` LIMIT ` + q.arg(limit+1)
	rows, err := s.pool.Query(ctx, sql, q.args...)
	if err != nil {
		return nil, "", mapErr(err, "events")
	}
	events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, "", mapErr(err, "events")
	}
	next := ""
	if len(events) > limit {
		events = events[:limit]
		next = encodeCursor(eventCursor{Seq: events[limit-1].Seq})
	}
	if events == nil {
		events = []*sm.Event{}
	}
	return events, next, nil
}
