package sessionmanager_test

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// runManager runs e.m.Run until the test ends and waits until its loops
// have armed their tickers on the test clock (flush, cache prune, sweep,
// purge).
func runManager(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { _ = e.m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if !e.clock.WaitTimers(4) {
		t.Fatalf("Run armed %d tickers on the clock, want 4", e.clock.Timers())
	}
}

// TestRunSweepsOnTheClock: Run's sweep is timed by the Manager's clock, so
// an idle session ends when the clock passes the idle timeout, with no
// real time spent (the real sweep period here would be 30s).
func TestRunSweepsOnTheClock(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("rip")
		runManager(t, e)
		e.clock.Advance(time.Hour + time.Minute + 30*time.Second)
		testenv.Eventually(t, "the sweep to end the idle session", func() bool {
			s, err := e.store.SessionByID(e.ctx, res.Session.ID)
			return err == nil && s.Status == sm.StatusEnded
		})
		if s, _ := e.store.SessionByID(e.ctx, res.Session.ID); s.EndReason != sm.EndIdle {
			t.Errorf("ended for %q, want idle", s.EndReason)
		}
	}, func(c *sm.Config) { c.IdleTimeout = time.Hour })
}

// TestRunFlushesLastSeenOnTheClock: a last-seen note reaches the store on
// the flush ticker of the Manager's clock.
func TestRunFlushesLastSeenOnTheClock(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("fay")
		if err := e.m.Flush(e.ctx); err != nil { // the login's own note
			t.Fatal(err)
		}
		before := e.sink.writes.Load()
		runManager(t, e)
		e.clock.Advance(2 * time.Minute)
		if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second) // one flush period (LastSeenInterval/5, at most 1s)
		testenv.Eventually(t, "the flush ticker to write the note", func() bool { return e.sink.writes.Load() > before })
	})
}
