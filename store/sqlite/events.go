package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

const eventColumns = `seq, at, type, actor_type, actor_id, user_id, session_id, country, data,
	ip, user_agent, personal, erased, personal_digest, prev_hash, hash`

// scanEvent reads the eventColumns of one row.
func scanEvent(row rowScanner) (*sessionmanager.Event, error) {
	var (
		e              sessionmanager.Event
		at             int64
		data, personal []byte
	)
	err := row.Scan(&e.Seq, &at, &e.Type, &e.ActorType, &e.ActorID, &e.UserID, &e.SessionID, &e.Country, &data,
		&e.IP, &e.UserAgent, &personal, &e.Erased, &e.PersonalDigest, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
	e.At = timeOf(at)
	e.Data, e.Personal = data, personal
	return &e, nil
}

// AppendEvent seals e with the next seq and the last hash and inserts it
// with its deliveries, in one write transaction: the single writer makes
// the read of the chain's head and the insert one atomic step.
func (s *Store) AppendEvent(ctx context.Context, e *sessionmanager.Event, deliveries []*sessionmanager.Delivery) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			last     int64
			prevHash []byte
		)
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&last, &prevHash)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("sqlite: append event: %w", err)
		}
		e.Seal(last+1, prevHash)
		_, err = tx.ExecContext(ctx, `INSERT INTO events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.At.UnixMicro(), e.Type, e.ActorType, e.ActorID, e.UserID, e.SessionID, e.Country, blob(e.Data),
			e.IP, e.UserAgent, blob(e.Personal), e.Erased, blob(e.PersonalDigest), blob(e.PrevHash), e.Hash)
		if err != nil {
			return fmt.Errorf("sqlite: append event: %w", err)
		}
		for _, d := range deliveries {
			if err := insertDelivery(ctx, tx, e, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvents returns events in chain order (or newest first with Desc).
func (s *Store) ListEvents(ctx context.Context, f sessionmanager.EventFilter) ([]*sessionmanager.Event, string, error) {
	var w where
	if len(f.Types) > 0 {
		marks := make([]string, len(f.Types))
		for i, t := range f.Types {
			marks[i] = "?"
			w.args = append(w.args, t)
		}
		w.conds = append(w.conds, `type IN (`+strings.Join(marks, ", ")+`)`)
	}
	if f.UserID != "" {
		w.add(`user_id = ?`, f.UserID)
	}
	if f.SessionID != "" {
		w.add(`session_id = ?`, f.SessionID)
	}
	if f.ActorID != "" {
		w.add(`actor_id = ?`, f.ActorID)
	}
	if !f.From.IsZero() {
		w.add(`at >= ?`, f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		w.add(`at < ?`, f.To.UnixMicro())
	}
	if f.AfterSeq > 0 {
		w.add(`seq > ?`, f.AfterSeq)
	}
	desc := f.Desc && f.AfterSeq == 0
	if f.Cursor != "" {
		seq, err := decodeSeqCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		if desc {
			w.add(`seq < ?`, seq)
		} else {
			w.add(`seq > ?`, seq)
		}
	}
	order := "ASC"
	if desc {
		order = "DESC"
	}
	limit := pageLimit(f.Limit)
	events, err := queryAll(ctx, s.read, "list events", scanEvent, `SELECT `+eventColumns+` FROM events`+w.String()+
		` ORDER BY seq `+order+` LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	events, next := pageOf(events, limit, func(e *sessionmanager.Event) string { return encodeSeqCursor(e.Seq) })
	return events, next, nil
}
