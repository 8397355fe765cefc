package sessionmanager_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// failingEvents is a real store whose next AppendEvent calls fail, as
// during a database hiccup.
type failingEvents struct {
	sm.Store
	failures atomic.Int32
	// afterCommit makes a failure come after the write, as a connection
	// lost between the commit and its answer.
	afterCommit bool
}

func (f *failingEvents) AppendEvent(ctx context.Context, e *sm.Event, ds []*sm.Delivery) error {
	if f.failures.Add(-1) >= 0 {
		if f.afterCommit {
			if err := f.Store.AppendEvent(ctx, e, ds); err != nil {
				return err
			}
		}
		return &sm.Error{Code: sm.EUNAVAILABLE, Message: "database unavailable; try again"}
	}
	return f.Store.AppendEvent(ctx, e, ds)
}

// TestAuditRetryAfterAnUnknownOutcome: a write that failed after its
// commit is retried without recording the event twice, and an event that
// really failed is still written by the retry.
func TestAuditRetryAfterAnUnknownOutcome(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { auditRetryAfterAnUnknownOutcome(t, k) })
	}
}

func auditRetryAfterAnUnknownOutcome(t *testing.T, k storeKind) {
	e, flaky := newFlakyEnvOn(t, k)
	a, b := e.register("committed"), e.register("failed")
	ended := func(sid string) int {
		evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventSessionEnded}, SessionID: sid})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	flaky.afterCommit = true
	flaky.failures.Store(1)
	if err := e.m.EndSession(e.ctx, a.Session.ID, sm.EndManual, sm.Actor{Type: sm.ActorAdmin, ID: "a1"}); err != nil {
		t.Fatal(err)
	}
	flaky.afterCommit = false
	flaky.failures.Store(1)
	if err := e.m.EndSession(e.ctx, b.Session.ID, sm.EndManual, sm.Actor{Type: sm.ActorAdmin, ID: "a1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := ended(a.Session.ID); n != 1 {
		t.Fatalf("%d session-ended events for the write that failed after its commit, want 1", n)
	}
	if n := ended(b.Session.ID); n != 1 {
		t.Fatalf("%d session-ended events for the write that failed, want 1 (written by the retry)", n)
	}
	if err := e.m.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := ended(a.Session.ID) + ended(b.Session.ID); n != 2 {
		t.Fatalf("%d events after a second Flush, want 2", n)
	}
}

// newFlakyEnv is a test Manager on SQLite whose event writes fail on
// demand.
func newFlakyEnv(t *testing.T) (*env, *failingEvents) { return newFlakyEnvOn(t, storeKinds[0]) }

// newFlakyEnvOn is newFlakyEnv on the store kind k.
func newFlakyEnvOn(t *testing.T, k storeKind) (*env, *failingEvents) {
	var flaky *failingEvents
	e := newEnv(t, k, func(c *sm.Config) {
		flaky = &failingEvents{Store: c.Store}
		c.Store = flaky
	})
	return e, flaky
}

// TestShutdownFlushWritesAFailedAuditEvent: an audit event whose write
// failed is written by the next Flush (the one at shutdown, after Run has
// stopped, included) within its deadline; nothing retries it on a
// goroutine of its own after the Manager is closed.
func TestShutdownFlushWritesAFailedAuditEvent(t *testing.T) {
	e, flaky := newFlakyEnv(t)
	res := e.register("audited")
	ended := func() int {
		evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventSessionEnded}, SessionID: res.Session.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	flaky.failures.Store(1)
	if err := e.m.EndSession(e.ctx, res.Session.ID, sm.EndManual, sm.Actor{Type: sm.ActorAdmin, ID: "a1"}); err != nil {
		t.Fatal(err)
	}
	if n := ended(); n != 0 {
		t.Fatalf("%d session-ended events before the retry, want 0 (the write failed)", n)
	}
	// Run starts and stops, as a process that is shut down at once.
	ctx, stop := context.WithCancel(e.ctx)
	stop()
	if err := e.m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	if err := e.m.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if n := ended(); n != 1 {
		t.Fatalf("%d session-ended events after the shutdown flush, want 1", n)
	}
}

// TestAuditRetryGivesUp: an event whose writes keep failing is tried by a
// bounded number of Flushes, then dropped (and logged), never held forever.
func TestAuditRetryGivesUp(t *testing.T) {
	e, flaky := newFlakyEnv(t)
	res := e.register("lost")
	flaky.failures.Store(1 << 20)
	if err := e.m.EndSession(e.ctx, res.Session.ID, sm.EndManual, sm.Actor{Type: sm.ActorAdmin, ID: "a1"}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_ = e.m.Flush(e.ctx)
	}
	before := flaky.failures.Load()
	_ = e.m.Flush(e.ctx)
	if after := flaky.failures.Load(); after != before {
		t.Fatalf("Flush still retries the event after %d tries", 10)
	}
}

// TestRecordOutlivesTheRequest: an event for something already done is
// written even when the client's request is cancelled before or while it
// waits for the store (a PostgreSQL append queued behind another group
// leaves the queue on cancellation), on both stores.
func TestRecordOutlivesTheRequest(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t, k)
			ctx, cancel := context.WithCancel(e.ctx)
			cancel()
			if err := e.m.Record(ctx, &sm.Event{Type: sm.EventUserErased, UserID: "u-gone"}); err != nil {
				t.Fatalf("record with a cancelled request: %v", err)
			}
			evs, _, err := e.m.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventUserErased}})
			if err != nil || len(evs) != 1 || evs[0].UserID != "u-gone" {
				t.Fatalf("events: %v %v", evs, err)
			}
		})
	}
}
