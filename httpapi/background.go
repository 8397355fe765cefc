package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// backgroundLimit bounds one job's time (an email with its retries).
const backgroundLimit = 2 * time.Minute

// Background runs the work a handler leaves for after its response (the
// emails of magic links and account tokens) on goroutines it owns: every
// job is tracked, and Shutdown stops taking new ones and waits for those
// running, so a graceful shutdown does not lose a mail already promised.
type Background struct {
	log    *slog.Logger
	stop   context.Context // cancelled when Shutdown runs out of time
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	jobs   sync.WaitGroup
	// running counts the jobs not yet returned, for the shutdown's log.
	running atomic.Int64
}

// NewBackground returns a Background that logs to logger (nil:
// slog.Default()).
func NewBackground(logger *slog.Logger) *Background {
	if logger == nil {
		logger = slog.Default()
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Background{log: logger, stop: stop, cancel: cancel}
}

// Go runs fn on a goroutine of the Background with the values of ctx (a
// request's), not its cancellation: fn's context ends after
// backgroundLimit or when Shutdown runs out of time. It returns false,
// without running fn, once Shutdown has begun.
func (b *Background) Go(ctx context.Context, fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.jobs.Add(1)
	b.running.Add(1)
	jobCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backgroundLimit)
	stopJob := context.AfterFunc(b.stop, cancel)
	go func() {
		defer b.jobs.Done()
		defer b.running.Add(-1)
		defer cancel()
		defer stopJob()
		fn(jobCtx)
	}()
	return true
}

// Shutdown refuses new jobs and waits for the running ones until ctx ends;
// then it cancels their contexts and waits for them to return, and reports
// ctx's error.
func (b *Background) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	if n := b.running.Load(); n > 0 {
		b.log.Info("shutdown: waiting for the emails being sent", "jobs", n)
	}
	done := make(chan struct{})
	go func() { b.jobs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	b.log.Warn("shutdown: cancelling background work still running (emails)", "err", ctx.Err())
	b.cancel()
	<-done
	return ctx.Err()
}
