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

// AppendEvent seals e with the next seq and the head's hash and inserts it
// with its deliveries, in one write transaction: the single writer makes
// the read of the chain's head and the insert one atomic step. The head
// (and, when due, a checkpoint) is signed in the same transaction.
func (s *Store) AppendEvent(ctx context.Context, e *sessionmanager.Event, deliveries []*sessionmanager.Delivery) error {
	signing := s.chain.Load()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var checkpointAt int64
		prev, err := scanChainHead(tx.QueryRowContext(ctx, `SELECT seq, hash, since, sig, at, checkpoint_at FROM event_chain WHERE id = 1`), &checkpointAt)
		if isNoRows(err) {
			// The head row is gone (deleted behind our back): go on from the
			// last event, unsigned; the next head records it (Since).
			prev = &sessionmanager.ChainHead{}
			err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&prev.Seq, &prev.Hash)
		}
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("sqlite: append event: %w", err)
		}
		e.Seal(prev.Seq+1, prev.Hash)
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
		head, checkpoint := signing.Extend(prev, e, timeOf(checkpointAt))
		if checkpoint {
			checkpointAt = head.At.UnixMicro()
			// A checkpoint already at this seq (seqs repeat after the head
			// row was deleted) stays: VerifyAudit reports the stretch.
			if _, err := tx.ExecContext(ctx, `INSERT INTO event_checkpoints (seq, hash, since, sig, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (seq) DO NOTHING`, head.Seq, head.Hash, head.Since, head.Sig, checkpointAt); err != nil {
				return fmt.Errorf("sqlite: chain checkpoint: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO event_chain (id, seq, hash, since, sig, at, checkpoint_at) VALUES (1, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, since = excluded.since, sig = excluded.sig,
				at = excluded.at, checkpoint_at = excluded.checkpoint_at`,
			head.Seq, head.Hash, head.Since, blob(head.Sig), head.At.UnixMicro(), checkpointAt)
		if err != nil {
			return fmt.Errorf("sqlite: chain head: %w", err)
		}
		return nil
	})
}

// SignChainWith makes later appends sign the chain's head and checkpoints.
func (s *Store) SignChainWith(c sessionmanager.ChainSigning) {
	c = c.WithDefaults()
	s.chain.Store(&c)
}

// ChainHead returns the chain's head; a missing head row reads as an
// empty, unsigned head.
func (s *Store) ChainHead(ctx context.Context) (*sessionmanager.ChainHead, error) {
	h, err := scanChainHead(s.read.QueryRowContext(ctx, `SELECT seq, hash, since, sig, at, checkpoint_at FROM event_chain WHERE id = 1`), nil)
	if isNoRows(err) {
		return &sessionmanager.ChainHead{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: chain head: %w", err)
	}
	return h, nil
}

// ChainCheckpoints lists signed checkpoints after afterSeq, ascending.
func (s *Store) ChainCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*sessionmanager.ChainHead, error) {
	return queryAll(ctx, s.read, "chain checkpoints", func(row rowScanner) (*sessionmanager.ChainHead, error) { return scanChainHead(row, nil) },
		`SELECT seq, hash, since, sig, at, at FROM event_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, pageLimit(limit))
}

// scanChainHead reads (seq, hash, since, sig, at, checkpoint_at) of a head
// or checkpoint; checkpointAt, when not nil, gets the last column.
func scanChainHead(row rowScanner, checkpointAt *int64) (*sessionmanager.ChainHead, error) {
	var h sessionmanager.ChainHead
	var at, cp int64
	if err := row.Scan(&h.Seq, &h.Hash, &h.Since, &h.Sig, &at, &cp); err != nil {
		return nil, err
	}
	h.At = timeOf(at)
	if checkpointAt != nil {
		*checkpointAt = cp
	}
	return &h, nil
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
	if f.IP != "" {
		w.add(`ip = ?`, f.IP)
	}
	if f.Seq > 0 {
		w.add(`seq = ?`, f.Seq)
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
