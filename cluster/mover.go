package cluster

import (
	"context"
	"log/slog"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// ActivityMover moves the shared last-seen buffer into the store. Run it on
// the leader only (a Leader), so each note is written once.
type ActivityMover struct {
	// Activity is the shared buffer.
	Activity *RedisActivity
	// Touch writes notes to the store: the store's TouchSessions.
	Touch func(ctx context.Context, notes []sm.LastSeen) error
	// Interval between moves; 0 means 10s.
	Interval time.Duration
	// Clock times the moves; nil means sm.SystemClock.
	Clock sm.Clock
	// Batch is the most notes per store call; 0 means 500.
	Batch int
	// Logger receives failures; nil discards.
	Logger *slog.Logger
}

// Run moves the buffer every Interval until ctx is done; a failed move is
// retried at the next tick. It fits a Leader's fn (fencing is unused:
// TouchSessions never lowers last_seen, so a stale leader does no harm).
func (m *ActivityMover) Run(ctx context.Context, _ int64) error {
	interval := m.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	clock := m.Clock
	if clock == nil {
		clock = sm.SystemClock{}
	}
	t, tick := clock.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := m.MoveOnce(ctx); err != nil && ctx.Err() == nil {
			orDiscard(m.Logger).Warn("cluster: moving last-seen to the store failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
		}
	}
}

// MoveOnce drains the buffer batch by batch into Touch and returns how many
// notes reached the store. A batch that Touch refuses goes back into the
// buffer (ZADD GT, so a newer note written meanwhile wins).
func (m *ActivityMover) MoveOnce(ctx context.Context) (int, error) {
	batch := m.Batch
	if batch <= 0 {
		batch = 500
	}
	moved := 0
	for {
		notes, err := m.Activity.Drain(ctx, batch)
		if err != nil {
			return moved, err
		}
		if len(notes) == 0 {
			return moved, nil
		}
		if err := m.Touch(ctx, notes); err != nil {
			// Put them back with a context of their own: ctx may be the
			// reason Touch failed.
			backCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if rerr := m.Activity.WriteLastSeen(backCtx, notes); rerr != nil {
				orDiscard(m.Logger).Error("cluster: last-seen notes lost after a failed move", "notes", len(notes), "err", rerr)
			}
			cancel()
			return moved, err
		}
		moved += len(notes)
		if len(notes) < batch {
			return moved, nil
		}
	}
}
