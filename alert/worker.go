package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Worker defaults.
const (
	DefaultMaxAttempts = 8
	DefaultBaseBackoff = 5 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultLease       = time.Minute
	DefaultPoll        = 5 * time.Second
	DefaultBatch       = 4
	DefaultConcurrency = 4
)

// WorkerConfig wires a Worker.
type WorkerConfig struct {
	Store      sm.OutboxStore
	Dispatcher *Dispatcher
	// Clock tells the time and times the polls (nil: sm.SystemClock).
	Clock sm.Clock
	// Concurrency is how many deliveries are sent at once (default 4).
	Concurrency int
	// Batch is how many deliveries one claim takes (default 4). Keep
	// ceil(Batch/Concurrency) x the send timeout (10s) below Lease, or a
	// claim can expire while it waits and be sent twice.
	Batch int
	// Lease is how long a claim is held; it must exceed a send's timeout
	// (default 1m). A crashed worker's claims are retried after it.
	Lease time.Duration
	// MaxAttempts before a delivery is dead-lettered (default 8).
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff (5s, 1h).
	BaseBackoff, MaxBackoff time.Duration
	// Poll is how often the outbox is checked without a Kick (default 5s).
	Poll time.Duration
	// Sealer seals the clear secret of a channel given to Test.
	Sealer Sealer
	// Conditions evaluates the custom conditions of deliveries the Engine
	// marked pending; without it such deliveries are dropped (logged).
	Conditions *ConditionConfig
	Targets    TargetPolicy
	Logger     *slog.Logger
}

// Worker moves deliveries from the durable outbox to their channels.
type Worker struct {
	cfg   WorkerConfig
	kick  chan struct{}
	conds *conditionChecks
}

// NewWorker returns a Worker with defaults filled in.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Clock == nil {
		cfg.Clock = sm.SystemClock{}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = DefaultBaseBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Worker{cfg: cfg, kick: make(chan struct{}, 1), conds: newConditionChecks(cfg.Conditions, cfg.Clock.Now, cfg.Logger)}
}

// Kick wakes the worker at once (after a login wrote deliveries).
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. On stop it takes no new claims and lets the
// sends in flight finish and record their outcome, so a restart does not
// send them again.
func (w *Worker) Run(ctx context.Context) error {
	timer, fired := w.cfg.Clock.NewTimer(w.cfg.Poll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		default:
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Error("alert outbox claim failed", "error", err)
		}
		if n > 0 && err == nil {
			continue // more may be due
		}
		timer.Reset(w.cfg.Poll)
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-fired:
		}
	}
}

// RunOnce claims one batch and sends it; it returns how many deliveries it
// handled.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	ds, err := w.cfg.Store.ClaimDeliveries(ctx, w.cfg.Clock.Now(), w.cfg.Batch, w.cfg.Lease)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	// In-flight sends outlive ctx (bounded by their own timeouts) so their
	// outcome is recorded.
	sendCtx := context.WithoutCancel(ctx)
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, d := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w.deliver(sendCtx, d)
		})
	}
	wg.Wait()
	return len(ds), nil
}

// deliver sends one delivery and records the outcome. A delivery whose
// rule's condition is pending is first decided: sent when the condition
// returns true, dropped (with the reason) otherwise.
func (w *Worker) deliver(ctx context.Context, d *sm.Delivery) {
	var err error
	if p := pendingOf(d); p != nil {
		fire, reason, cerr := w.conds.decide(ctx, p)
		if cerr == nil && !fire {
			if err := w.cfg.Store.DropDelivery(ctx, d.ID, reason, w.cfg.Clock.Now()); err != nil {
				w.cfg.Logger.Error("alert delivery dropped but not recorded", "delivery", d.ID, "error", err)
			}
			return
		}
		if cerr != nil {
			err = fmt.Errorf("condition not evaluated: %w", cerr) // retried like a failed send
		}
	}
	if err == nil {
		err = w.send(ctx, d)
	}
	now := w.cfg.Clock.Now()
	if err == nil {
		if err := w.cfg.Store.CompleteDelivery(ctx, d.ID, now); err != nil {
			w.cfg.Logger.Error("alert delivery sent but not recorded", "delivery", d.ID, "error", err)
		}
		return
	}
	attempts := d.Attempts + 1
	dead := IsPermanent(err) || attempts >= w.cfg.MaxAttempts
	next := now.Add(backoff(attempts, w.cfg.BaseBackoff, w.cfg.MaxBackoff, retryAfterOf(err)))
	msg := truncate(err.Error(), 500)
	level := slog.LevelWarn
	if dead {
		level = slog.LevelError
	}
	w.cfg.Logger.Log(ctx, level, "alert delivery failed", "delivery", d.ID, "channel", d.Channel,
		"rule", d.RuleID, "attempt", attempts, "dead", dead, "error", msg)
	if err := w.cfg.Store.FailDelivery(ctx, d.ID, msg, next, dead); err != nil {
		w.cfg.Logger.Error("alert delivery failure not recorded", "delivery", d.ID, "error", err)
	}
}

// send calls the dispatcher, turning a panic into a permanent failure.
func (w *Worker) send(ctx context.Context, d *sm.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("sender panicked: %v", r))
		}
	}()
	return w.cfg.Dispatcher.Send(ctx, d)
}

// testRuleID is the rule id test deliveries (and their sealed secrets) use.
const testRuleID = "test"

// Test sends a test alert through a channel (the API form, secret in
// clear) synchronously and returns the channel's error.
func (w *Worker) Test(ctx context.Context, channel sm.AlertChannel) error {
	c := Channel{AlertChannel: channel}
	c.To = append([]string(nil), channel.To...)
	bad := map[string]string{}
	w.cfg.Targets.validateChannel(ctx, "channel", &c, bad)
	if len(bad) > 0 {
		return sm.InvalidFields(bad)
	}
	if c.Type == ChannelWebhook {
		if w.cfg.Sealer == nil {
			return sm.Errorf(sm.EINTERNAL, "alert worker has no sealer")
		}
		sealed, err := w.cfg.Sealer.Seal([]byte(c.Secret), secretAD(testRuleID))
		if err != nil {
			return err
		}
		c.Secret, c.SealedSecret = "", sealed
	}
	target, err := c.targetJSON()
	if err != nil {
		return err
	}
	return w.sendTest(ctx, testRuleID, c.Type, target)
}

// TestRule sends a test alert through every channel of a stored rule, with
// its stored (sealed) secrets, synchronously; it stops at the first error.
func (w *Worker) TestRule(ctx context.Context, rules *Rules, ruleID string) error {
	rule, ok := rules.find(ruleID)
	if !ok {
		return sm.Errorf(sm.ENOTFOUND, "alert rule not found")
	}
	for _, c := range rule.Channels {
		target, err := c.targetJSON()
		if err != nil {
			return err
		}
		if err := w.sendTest(ctx, rule.ID, c.Type, target); err != nil {
			return err
		}
	}
	return nil
}

// sendTest sends the sample alert to one target and reports its error.
func (w *Worker) sendTest(ctx context.Context, ruleID, channel string, target json.RawMessage) error {
	a := sampleAlert()
	a.ID, a.OccurredAt = randomID(), w.cfg.Clock.Now().UTC()
	payload, err := json.Marshal(a)
	if err != nil {
		return err
	}
	d := &sm.Delivery{RuleID: ruleID, Channel: channel, Target: target, Payload: payload,
		IdempotencyKey: randomID(), Status: sm.DeliveryPending, CreatedAt: a.OccurredAt}
	if err := w.send(ctx, d); err != nil {
		return sm.Errorf(sm.EUNAVAILABLE, "test alert failed: %s", truncate(err.Error(), 300))
	}
	return nil
}

// ListDeliveries lists the outbox (for the admin dashboard).
func (w *Worker) ListDeliveries(ctx context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	return w.cfg.Store.ListDeliveries(ctx, f)
}

// Retry makes a dead delivery pending again and wakes the worker.
func (w *Worker) Retry(ctx context.Context, id int64) error {
	if err := w.cfg.Store.RetryDelivery(ctx, id, w.cfg.Clock.Now()); err != nil {
		return err
	}
	w.Kick()
	return nil
}
