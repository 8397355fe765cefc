package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

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
// every event links to the one before it. The head (and, when due, a
// checkpoint) is signed in the same transaction.
//
// Concurrent appends of this Store share one transaction (group commit):
// the chain head is one row every instance of a deployment locks, so one
// transaction per event caps the whole fleet at one event per commit
// (about 70 a second with ten instances on the shared test machine, every
// force logout one event). AppendEvent still returns only once its event
// is committed. When a group fails because of one event's data (a value
// the database refuses, a conflict), each event is retried alone, so one
// bad event fails only its own caller; any other failure (a lost
// connection, a timeout) fails the whole group with that error, since the
// outcome of an interrupted commit is unknown and a retry could write an
// event twice.
//
// A caller whose ctx ends while its event still waits in the queue leaves
// with ctx.Err(), and its event is not written. Once its group runs, the
// caller waits for the outcome (bounded by appendTimeout): leaving earlier
// would let it take a committed event for a failed one.
func (s *Store) AppendEvent(ctx context.Context, e *sm.Event, deliveries []*sm.Delivery) error {
	if !storable(e.Type) {
		return sm.InvalidFields(map[string]string{"type": "is not valid text"})
	}
	return s.appends.add(ctx, &appendReq{e: e, ds: deliveries}, s.appendGroup)
}

// appendGroupMax bounds the events of one group transaction.
const appendGroupMax = 256

// appendTimeout bounds one group transaction: it runs on for callers whose
// own context may have ended (their event is committed or fails with the
// others'; waiting callers never leave once their group runs, so an event
// is never retried after it was committed).
const appendTimeout = 30 * time.Second

type appendReq struct {
	e    *sm.Event
	ds   []*sm.Delivery
	err  error
	done chan struct{}
	lead chan struct{} // this caller runs the next group
}

// errAppendPanicked is the error of the callers whose group's writer
// panicked (the panic itself goes on up the writer's own caller).
var errAppendPanicked = errors.New("postgres: event: the group's transaction panicked")

// appendQueue groups concurrent appends: the first caller runs a group of
// everything queued (its own event first), then hands the next group to the
// oldest caller still waiting, so no caller runs more than one group.
type appendQueue struct {
	mu      sync.Mutex
	pending []*appendReq
	busy    bool
	// onGroup, when set (tests), sees the size of every group before its
	// transaction.
	onGroup func(n int)
}

func (q *appendQueue) add(ctx context.Context, r *appendReq, run func(context.Context, []*appendReq)) error {
	r.done, r.lead = make(chan struct{}), make(chan struct{}, 1)
	q.mu.Lock()
	q.pending = append(q.pending, r)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if lead {
		q.round(ctx, run)
	}
	cancelled := ctx.Done()
	for {
		select {
		case <-r.done:
			return r.err
		case <-r.lead:
			q.round(ctx, run)
		case <-cancelled:
			if q.leave(r) {
				return ctx.Err()
			}
			cancelled = nil // its group runs: wait for the outcome
		}
	}
}

// leave takes r out of the queue when its group has not started, passing
// on the lead it may hold; false when r is in a running group.
func (q *appendQueue) leave(r *appendReq) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.pending, r)
	if i < 0 {
		return false
	}
	q.pending = slices.Delete(q.pending, i, i+1)
	select {
	case <-r.lead: // sent under q.mu, so this sees it if it was sent
		q.handOnLocked()
	default:
	}
	return true
}

// round runs one group from the head of the queue and passes the lead on,
// also when the group's writer panics (the panic goes on, the group's other
// callers get errAppendPanicked and the queue keeps moving).
func (q *appendQueue) round(ctx context.Context, run func(context.Context, []*appendReq)) {
	q.mu.Lock()
	n := min(len(q.pending), appendGroupMax)
	group := q.pending[:n:n]
	q.pending = q.pending[n:]
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.handOnLocked()
		q.mu.Unlock()
	}()
	if n == 0 {
		return
	}
	finished := false
	defer func() {
		for _, r := range group {
			if !finished {
				r.err = errAppendPanicked
			}
			close(r.done)
		}
	}()
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), appendTimeout)
	defer cancel()
	if q.onGroup != nil {
		q.onGroup(n)
	}
	run(gctx, group)
	finished = true
}

// handOnLocked gives the lead to the oldest waiting caller, or ends the
// queue's busy state when none waits; q.mu is held.
func (q *appendQueue) handOnLocked() {
	if len(q.pending) > 0 {
		q.pending[0].lead <- struct{}{}
	} else {
		q.busy = false
	}
}

// appendGroup appends a group in one transaction. When that fails because
// of an event's data (EINVALID, ECONFLICT) and the group has several
// events, each is appended alone so that the error is only the one whose
// event caused it; any other error is the whole group's.
func (s *Store) appendGroup(ctx context.Context, group []*appendReq) {
	err := s.appendTx(ctx, group)
	if code := sm.ErrorCode(err); err == nil || len(group) == 1 || (code != sm.EINVALID && code != sm.ECONFLICT) {
		for _, r := range group {
			r.err = err
		}
		return
	}
	for _, r := range group {
		r.err = s.appendTx(ctx, []*appendReq{r})
	}
}

// appendTx appends the group's events in order on the locked chain head,
// in one round trip after the lock (deliveries, rare, follow their event).
func (s *Store) appendTx(ctx context.Context, group []*appendReq) error {
	signing := s.chain.Load()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var lastCheckpoint time.Time
		const head = `SELECT seq, hash, since, sig, at, checkpoint_at FROM event_chain WHERE id = 1 FOR UPDATE`
		prev, err := scanChainHead(tx.QueryRow(ctx, head), &lastCheckpoint)
		if errors.Is(err, pgx.ErrNoRows) {
			// The head row is gone (deleted behind our back): put back an
			// unsigned one on the last event; the next head records it (Since).
			if _, err := tx.Exec(ctx, `INSERT INTO event_chain (id, seq, hash)
				SELECT 1, coalesce(max(seq), 0), (SELECT hash FROM events ORDER BY seq DESC LIMIT 1) FROM events
				ON CONFLICT (id) DO NOTHING`); err != nil {
				return mapErr(err, "event chain")
			}
			prev, err = scanChainHead(tx.QueryRow(ctx, head), &lastCheckpoint)
		}
		if err != nil {
			return mapErr(err, "event chain")
		}
		b := &pgx.Batch{}
		for _, r := range group {
			sealed := r.e
			sealed.Seal(prev.Seq+1, prev.Hash)
			b.Queue(`INSERT INTO events (`+eventColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				sealed.Seq, sealed.At, sealed.Type, sealed.ActorType, sealed.ActorID, sealed.UserID, sealed.SessionID, sealed.Country,
				nullBytes(sealed.Data), sealed.IP, sealed.UserAgent, nullBytes(sealed.Personal), sealed.Erased,
				sealed.PersonalDigest, nullBytes(sealed.PrevHash), sealed.Hash)
			next, checkpoint := signing.Extend(prev, sealed, lastCheckpoint)
			if checkpoint {
				lastCheckpoint = next.At
				// A checkpoint already at this seq (seqs repeat after the head
				// row was deleted) stays: VerifyAudit reports the stretch.
				b.Queue(`INSERT INTO event_checkpoints (seq, hash, since, sig, at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (seq) DO NOTHING`, next.Seq, next.Hash, next.Since, next.Sig, next.At)
			}
			prev = next
		}
		b.Queue(`UPDATE event_chain SET seq = $1, hash = $2, since = $3, sig = $4, at = $5, checkpoint_at = $6 WHERE id = 1`,
			prev.Seq, prev.Hash, prev.Since, nullBytes(prev.Sig), prev.At, nullTime(lastCheckpoint))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return mapErr(err, "event")
		}
		for _, r := range group {
			if err := insertDeliveries(ctx, tx, r.e, r.ds); err != nil {
				return err
			}
		}
		return nil
	})
}

// SignChainWith makes later appends sign the chain's head and checkpoints.
func (s *Store) SignChainWith(c sm.ChainSigning) {
	c = c.WithDefaults()
	s.chain.Store(&c)
}

// ChainHead returns the chain's head; a missing head row reads as an
// empty, unsigned head.
func (s *Store) ChainHead(ctx context.Context) (*sm.ChainHead, error) {
	h, err := scanChainHead(s.pool.QueryRow(ctx, `SELECT seq, hash, since, sig, at, checkpoint_at FROM event_chain WHERE id = 1`), nil)
	if errors.Is(err, pgx.ErrNoRows) {
		return &sm.ChainHead{}, nil
	}
	if err != nil {
		return nil, mapErr(err, "event chain")
	}
	return h, nil
}

// ChainCheckpoints lists signed checkpoints after afterSeq, ascending.
func (s *Store) ChainCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*sm.ChainHead, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, hash, since, sig, at, at FROM event_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2`,
		afterSeq, pageLimit(limit))
	if err != nil {
		return nil, mapErr(err, "event checkpoints")
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.ChainHead, error) { return scanChainHead(r, nil) })
	return cps, mapErr(err, "event checkpoints")
}

// scanChainHead reads (seq, hash, since, sig, at, checkpoint_at) of a head
// or checkpoint; checkpointAt, when not nil, gets the last column.
func scanChainHead(row pgx.Row, checkpointAt *time.Time) (*sm.ChainHead, error) {
	var h sm.ChainHead
	var cp time.Time
	if err := row.Scan(&h.Seq, &h.Hash, &h.Since, &h.Sig, utc(&h.At), utc(&cp)); err != nil {
		return nil, err
	}
	if checkpointAt != nil {
		*checkpointAt = cp
	}
	return &h, nil
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
	for _, v := range append([]string{f.UserID, f.SessionID, f.ActorID, f.IP}, f.Types...) {
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
	if f.IP != "" {
		q.and("ip = " + q.arg(f.IP))
	}
	if f.Seq > 0 {
		q.and("seq = " + q.arg(f.Seq))
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
