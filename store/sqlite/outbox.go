package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

const deliveryColumns = `id, event_seq, rule_id, channel, target, payload, idempotency_key, status,
	attempts, next_attempt_at, last_error, created_at, delivered_at`

// scanDelivery reads the deliveryColumns of one row.
func scanDelivery(row rowScanner) (*sessionmanager.Delivery, error) {
	var (
		d               sessionmanager.Delivery
		target, payload []byte
		next, created   int64
		delivered       sql.NullInt64
	)
	err := row.Scan(&d.ID, &d.EventSeq, &d.RuleID, &d.Channel, &target, &payload, &d.IdempotencyKey, &d.Status,
		&d.Attempts, &next, &d.LastError, &created, &delivered)
	if err != nil {
		return nil, err
	}
	d.Target, d.Payload = target, payload
	d.NextAttemptAt, d.CreatedAt, d.DeliveredAt = timeOf(next), timeOf(created), fromMicro(delivered)
	return &d, nil
}

// insertDelivery writes one delivery of event e, pending, and sets its ID.
func insertDelivery(ctx context.Context, tx *sql.Tx, e *sessionmanager.Event, d *sessionmanager.Delivery) error {
	d.EventSeq = e.Seq
	d.Status = sessionmanager.DeliveryPending
	if d.CreatedAt.IsZero() {
		d.CreatedAt = e.At
	}
	d.CreatedAt = d.CreatedAt.UTC().Truncate(time.Microsecond)
	if d.NextAttemptAt.IsZero() {
		d.NextAttemptAt = d.CreatedAt
	}
	d.NextAttemptAt = d.NextAttemptAt.UTC().Truncate(time.Microsecond)
	err := tx.QueryRowContext(ctx, `INSERT INTO deliveries (event_seq, rule_id, channel, target, payload, idempotency_key,
		status, attempts, next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		d.EventSeq, d.RuleID, d.Channel, blob(d.Target), blob(d.Payload), d.IdempotencyKey,
		d.Status, d.Attempts, d.NextAttemptAt.UnixMicro(), d.LastError, d.CreatedAt.UnixMicro()).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("sqlite: insert delivery: %w", err)
	}
	return nil
}

// ClaimDeliveries leases up to limit due pending deliveries, oldest due
// first. The single writer makes the select and the lease one atomic step,
// so no two workers hold the same delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*sessionmanager.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	limit = min(limit, maxLimit)
	until := now.Add(lease).UTC().Truncate(time.Microsecond)
	var ds []*sessionmanager.Delivery
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		ds, err = queryAll(ctx, tx, "claim deliveries", scanDelivery, `SELECT `+deliveryColumns+` FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, now.UnixMicro(), limit)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ? WHERE id = ?`, until.UnixMicro(), d.ID); err != nil {
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			d.NextAttemptAt = until
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// CompleteDelivery marks a delivery delivered.
func (s *Store) CompleteDelivery(ctx context.Context, id int64, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET status = 'delivered', delivered_at = ? WHERE id = ?`, at.UnixMicro(), id)
	return mustAffect(res, err, "delivery")
}

// DropDelivery ends a pending delivery unsent, with the reason.
func (s *Store) DropDelivery(ctx context.Context, id int64, reason string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET status = 'dropped', last_error = ?, delivered_at = ?
		WHERE id = ? AND status = 'pending'`, reason, at.UnixMicro(), id)
	return mustAffect(res, err, "delivery")
}

// FailDelivery records a failed attempt and reschedules or dead-letters it.
func (s *Store) FailDelivery(ctx context.Context, id int64, errMsg string, next time.Time, dead bool) error {
	status := sessionmanager.DeliveryPending
	if dead {
		status = sessionmanager.DeliveryDead
	}
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1, last_error = ?, status = ?,
		next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?`, errMsg, status, micro(next), id)
	return mustAffect(res, err, "delivery")
}

// RetryDelivery makes a dead delivery pending again, due at now.
func (s *Store) RetryDelivery(ctx context.Context, id int64, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?
			WHERE id = ? AND status = 'dead'`, now.UnixMicro(), id)
		if err != nil {
			return fmt.Errorf("sqlite: retry delivery: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM deliveries WHERE id = ?`, id).Scan(&status); isNoRows(err) {
			return notFound("delivery")
		} else if err != nil {
			return err
		}
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "delivery %d is %s, not dead", id, status)
	})
}

// ListDeliveries returns a page of deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, f sessionmanager.DeliveryFilter) ([]*sessionmanager.Delivery, string, error) {
	var w where
	if f.Status != "" {
		w.add(`status = ?`, f.Status)
	}
	if f.Cursor != "" {
		id, err := decodeSeqCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, id)
	}
	limit := pageLimit(f.Limit)
	ds, err := queryAll(ctx, s.read, "list deliveries", scanDelivery, `SELECT `+deliveryColumns+` FROM deliveries`+w.String()+
		` ORDER BY id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	ds, next := pageOf(ds, limit, func(d *sessionmanager.Delivery) string { return encodeSeqCursor(d.ID) })
	return ds, next, nil
}

// OutboxDepth counts pending deliveries.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: outbox depth: %w", err)
	}
	return n, nil
}
