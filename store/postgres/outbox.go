package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const deliveryColumns = `id, event_seq, rule_id, channel, target, payload, idempotency_key, status,
	attempts, next_attempt_at, last_error, created_at, delivered_at`

// scanDelivery reads a row of deliveryColumns.
func scanDelivery(row pgx.Row) (*sm.Delivery, error) {
	var d sm.Delivery
	var target, payload []byte
	err := row.Scan(&d.ID, &d.EventSeq, &d.RuleID, &d.Channel, &target, &payload, &d.IdempotencyKey, &d.Status,
		&d.Attempts, utc(&d.NextAttemptAt), &d.LastError, utc(&d.CreatedAt), utc(&d.DeliveredAt))
	if err != nil {
		return nil, err
	}
	d.Target, d.Payload = target, payload
	return &d, nil
}

// insertDeliveries writes the deliveries of e, pending, inside its append
// transaction, and sets their ID, EventSeq and defaults.
func insertDeliveries(ctx context.Context, tx pgx.Tx, e *sm.Event, ds []*sm.Delivery) error {
	for _, d := range ds {
		d.EventSeq = e.Seq
		d.Status = sm.DeliveryPending
		if d.CreatedAt.IsZero() {
			d.CreatedAt = e.At
		}
		if d.NextAttemptAt.IsZero() {
			d.NextAttemptAt = d.CreatedAt
		}
		err := tx.QueryRow(ctx, `INSERT INTO deliveries (event_seq, rule_id, channel, target, payload,
				idempotency_key, status, attempts, next_attempt_at, last_error, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			d.EventSeq, d.RuleID, d.Channel, nullBytes(d.Target), nullBytes(d.Payload), d.IdempotencyKey,
			d.Status, d.Attempts, d.NextAttemptAt, d.LastError, d.CreatedAt).Scan(&d.ID)
		if err != nil {
			return mapErr(err, "delivery")
		}
	}
	return nil
}

// ClaimDeliveries leases up to limit due pending deliveries in one
// statement; SKIP LOCKED keeps concurrent workers from taking the same rows.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*sm.Delivery, error) {
	if limit <= 0 {
		return []*sm.Delivery{}, nil
	}
	// RETURNING keeps no order, so the claimed rows carry their due time
	// out of the UPDATE and the outer SELECT orders by it.
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id, next_attempt_at FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE deliveries d SET next_attempt_at = $3 FROM due WHERE d.id = due.id
			RETURNING `+prefixed("d.", deliveryColumns)+`, due.next_attempt_at AS due_at)
		SELECT `+deliveryColumns+` FROM claimed ORDER BY due_at, id`, now, min(limit, maxLimit), now.Add(lease))
	if err != nil {
		return nil, mapErr(err, "deliveries")
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, mapErr(err, "deliveries")
	}
	return ds, nil
}

// CompleteDelivery marks a delivery delivered.
func (s *Store) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	return s.updateDelivery(ctx, `UPDATE deliveries SET status = 'delivered', delivered_at = $2 WHERE id = $1`, id, at)
}

// DropDelivery ends a pending delivery unsent, with the reason.
func (s *Store) DropDelivery(ctx context.Context, id int64, reason string, at time.Time) error {
	return s.updateDelivery(ctx, `UPDATE deliveries SET status = 'dropped', last_error = $2, delivered_at = $3
		WHERE id = $1 AND status = 'pending'`, id, reason, at)
}

// FailDelivery records a failed attempt and schedules the next or dead-letters it.
func (s *Store) FailDelivery(ctx context.Context, id int64, errMsg string, next time.Time, dead bool) error {
	return s.updateDelivery(ctx, `UPDATE deliveries SET attempts = attempts + 1, last_error = $2,
		status = CASE WHEN $4 THEN 'dead' ELSE status END,
		next_attempt_at = CASE WHEN $4 OR $3::timestamptz IS NULL THEN next_attempt_at ELSE $3 END
		WHERE id = $1`, id, errMsg, nullTime(next), dead)
}

// RetryDelivery makes a dead delivery pending again, due at now; a
// delivery that is not dead is ECONFLICT.
func (s *Store) RetryDelivery(ctx context.Context, id int64, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2
		WHERE id = $1 AND status = 'dead'`, id, now)
	if err != nil {
		return mapErr(err, "delivery")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`, id).Scan(&exists); err != nil {
		return mapErr(err, "delivery")
	}
	if !exists {
		return notFound("delivery")
	}
	return sm.Errorf(sm.ECONFLICT, "only a dead delivery can be retried")
}

// updateDelivery runs a one-row update; no row is ENOTFOUND.
func (s *Store) updateDelivery(ctx context.Context, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return mapErr(err, "delivery")
	}
	if tag.RowsAffected() == 0 {
		return notFound("delivery")
	}
	return nil
}

// deliveryCursor is the id of the last delivery of a page.
type deliveryCursor struct {
	ID int64 `json:"i"`
}

// ListDeliveries lists outbox entries newest first.
func (s *Store) ListDeliveries(ctx context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	limit := pageLimit(f.Limit)
	var q query
	if !storable(f.Status) {
		return []*sm.Delivery{}, "", nil
	}
	if f.Status != "" {
		q.and("status = " + q.arg(f.Status))
	}
	if f.Cursor != "" {
		var c deliveryCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		q.and("id < " + q.arg(c.ID))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries`+q.whereClause()+
		` ORDER BY id DESC LIMIT `+q.arg(limit+1), q.args...)
	if err != nil {
		return nil, "", mapErr(err, "deliveries")
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, "", mapErr(err, "deliveries")
	}
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		next = encodeCursor(deliveryCursor{ID: ds[limit-1].ID})
	}
	if ds == nil {
		ds = []*sm.Delivery{}
	}
	return ds, next, nil
}

// OutboxDepth counts pending deliveries.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&n)
	return n, mapErr(err, "outbox")
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
