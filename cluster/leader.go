package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// ErrLeaseLost is returned by Lease.Renew when leadership is gone: another
// instance may lead now, so the holder must stop at once.
var ErrLeaseLost = sm.Errorf(sm.ECONFLICT, "leadership lease lost")

// Lease is held by the one leader of a name.
type Lease interface {
	// Fencing is a token that grows with every new leadership of the name;
	// writes guarded by it let a stale leader's writes be refused.
	Fencing() int64
	// Renew extends the lease by its TTL. ErrLeaseLost means it is gone;
	// other errors are transient (the lease may still hold until its TTL).
	Renew(ctx context.Context) error
	// Release gives leadership up at once.
	Release(ctx context.Context) error
}

// Elector grants leases: at most one live lease per name at a time.
type Elector interface {
	// Elect tries once to become the leader of name for ttl; ok=false with
	// a nil error when another instance leads.
	Elect(ctx context.Context, name string, ttl time.Duration) (lease Lease, ok bool, err error)
}

// Leader runs jobs that must run on one instance only.
type Leader interface {
	// Run keeps trying to lead name and runs fn while it leads, until ctx
	// is done. fn's ctx is cancelled when leadership is lost.
	Run(ctx context.Context, name string, fn func(ctx context.Context, fencing int64) error)
}

// NewLeader returns a Leader over e with leases of ttl (0 means 15s).
func NewLeader(e Elector, ttl time.Duration, logger *slog.Logger) Leader {
	if ttl <= 0 {
		ttl = 15 * time.Second
	}
	return &electedLeader{elector: e, ttl: ttl, logger: orDiscard(logger)}
}

type electedLeader struct {
	elector Elector
	ttl     time.Duration
	logger  *slog.Logger
}

func (l *electedLeader) Run(ctx context.Context, name string, fn func(ctx context.Context, fencing int64) error) {
	_ = runAsLeader(ctx, l.elector, name, l.ttl, fn, l.logger)
}

// runAsLeader keeps trying to become the leader of name, runs fn while it
// leads, renews the lease every ttl/3 and cancels fn's context when the
// lease is lost (or cannot be renewed before it would expire). When fn
// returns the lease is released and, after a pause, the election starts
// over. It returns ctx.Err() once ctx is done and fn has returned.
func runAsLeader(ctx context.Context, e Elector, name string, ttl time.Duration, fn func(ctx context.Context, fencing int64) error, logger *slog.Logger) error {
	logger = orDiscard(logger)
	if ttl <= 0 {
		return sm.Errorf(sm.EINVALID, "leader: ttl must be positive")
	}
	pause := max(ttl/3, 10*time.Millisecond)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		lease, ok, err := e.Elect(ctx, name, ttl)
		if err != nil && ctx.Err() == nil {
			logger.Warn("cluster: leader election failed", "name", name, "err", err)
		}
		if ok {
			logger.Info("cluster: leading", "name", name, "fencing", lease.Fencing())
			lead(ctx, lease, start.Add(ttl), ttl, pause, name, fn, logger)
		}
		if !sleepCtx(ctx, pause) {
			return ctx.Err()
		}
	}
}

// lead runs fn under lease until fn returns, ctx is done or the lease is
// lost; validUntil is when the lease expires unless renewed.
func lead(ctx context.Context, lease Lease, validUntil time.Time, ttl, every time.Duration, name string,
	fn func(ctx context.Context, fencing int64) error, logger *slog.Logger) {
	fnCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(fnCtx, lease.Fencing()) }()
	defer func() {
		relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer relCancel()
		_ = lease.Release(relCtx)
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("cluster: leader job stopped", "name", name, "err", err)
			}
			return
		case <-ctx.Done():
			cancel()
			<-done
			return
		case <-t.C:
		}
		start := time.Now()
		renewCtx, renewCancel := context.WithTimeout(ctx, every)
		err := lease.Renew(renewCtx)
		renewCancel()
		switch {
		case err == nil:
			validUntil = start.Add(ttl)
		case errors.Is(err, ErrLeaseLost) || time.Until(validUntil) < every:
			logger.Warn("cluster: leadership lost", "name", name, "err", err)
			cancel()
			<-done
			return
		default:
			logger.Warn("cluster: lease renewal failed, retrying", "name", name, "err", err)
		}
	}
}
