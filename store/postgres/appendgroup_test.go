package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// appendFixture is a store on a fresh schema whose connections carry an
// application name of their own (to find its backends in
// pg_stat_activity), the sizes of its append groups, and a transaction
// of another connection that can hold the chain head locked, so that
// appends queue up behind a group blocked in the database.
type appendFixture struct {
	s         *postgres.Store
	app       string
	sizes     chan int
	panicNext atomic.Bool // the next group's writer panics
	admin     *pgx.Conn   // for pg_stat_activity (which a transaction sees as of its start)
	lock      pgx.Tx      // of a connection of its own
}

func newAppendFixture(t *testing.T) *appendFixture {
	t.Helper()
	ctx := t.Context()
	base := testenv.PostgresSchema(t)
	f := &appendFixture{sizes: make(chan int, 64)}
	f.s, f.app = openNamed(t, base)
	postgres.OnAppendGroup(f.s, func(n int) {
		f.sizes <- n
		if f.panicNext.CompareAndSwap(true, false) {
			panic("test: the group's writer panics")
		}
	})
	if err := f.s.AppendEvent(ctx, groupEvent("first"), nil); err != nil {
		t.Fatal(err)
	}
	<-f.sizes
	var err error
	if f.admin, err = pgx.Connect(ctx, base); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.admin.Close(context.Background()) })
	locker, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = locker.Close(context.Background()) })
	if f.lock, err = locker.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.lock.Exec(ctx, `SELECT 1 FROM event_chain WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	return f
}

// openNamed opens a store on the schema of base whose connections carry
// an application name of their own, to find its backends in
// pg_stat_activity.
func openNamed(t *testing.T, base string) (*postgres.Store, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	app := testenv.Name("app_")
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, app
}

func groupEvent(actor string) *sm.Event {
	return &sm.Event{Type: sm.EventAdminAction, At: time.Now(), ActorID: actor}
}

// errPanicked marks an append whose caller panicked.
var errPanicked = errors.New("append panicked")

// appendAsync appends e in a goroutine of its own; its outcome arrives on
// the channel (errPanicked when the call panicked).
func (f *appendFixture) appendAsync(ctx context.Context, e *sm.Event) <-chan error {
	ch := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- fmt.Errorf("%w: %v", errPanicked, p)
			}
		}()
		ch <- f.s.AppendEvent(ctx, e, nil)
	}()
	return ch
}

// leaderBlocked starts an append whose group (of one) waits for the
// locked chain head; appends started after it queue for the next group.
func (f *appendFixture) leaderBlocked(t *testing.T) <-chan error {
	t.Helper()
	ch := f.appendAsync(t.Context(), groupEvent("leader"))
	if n := testenv.Recv(t, f.sizes, "the leader's group"); n != 1 {
		t.Fatalf("leader's group has %d events, want 1", n)
	}
	return ch
}

// queue starts the appends of events and waits until all of them are
// queued behind the running group.
func (f *appendFixture) queue(t *testing.T, events []*sm.Event) []<-chan error {
	t.Helper()
	chs := make([]<-chan error, len(events))
	for i, e := range events {
		chs[i] = f.appendAsync(t.Context(), e)
	}
	testenv.Eventually(t, "the appends to queue", func() bool { return postgres.QueuedAppends(f.s) == len(events) })
	return chs
}

// release ends the lock on the chain head.
func (f *appendFixture) release(t *testing.T) {
	t.Helper()
	if err := f.lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// terminateWaiting ends the store's backend that waits for the chain
// head's lock, once there is one, as a failover or an admin would.
func (f *appendFixture) terminateWaiting(t *testing.T) {
	t.Helper()
	var pid int
	testenv.Eventually(t, "a group's transaction to wait for the lock", func() bool {
		err := f.admin.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock' LIMIT 1`, f.app).Scan(&pid)
		return err == nil
	})
	if _, err := f.admin.Exec(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
}

// events lists the stored events, checking that they form one gapless chain.
func (f *appendFixture) events(t *testing.T) []*sm.Event {
	t.Helper()
	events, _, err := f.s.ListEvents(t.Context(), sm.EventFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the chain has a gap", i, e.Seq)
		}
		if i > 0 && !bytes.Equal(e.PrevHash, events[i-1].Hash) {
			t.Fatalf("event %d does not link to the one before it", e.Seq)
		}
	}
	return events
}

// TestAppendGroupFailsOnlyItsEvent: appends that queue behind a running
// group form the next group (one transaction); an event the database
// refuses fails its own caller only, and the others are committed in one
// gapless chain.
func TestAppendGroupFailsOnlyItsEvent(t *testing.T) {
	f := newAppendFixture(t)
	leader := f.leaderBlocked(t)
	const n, bad = 16, 7
	events := make([]*sm.Event, n)
	for i := range events {
		events[i] = groupEvent(fmt.Sprint("a", i))
	}
	events[bad].IP = "203.0.113.1\x00" // PostgreSQL text cannot hold NUL
	chs := f.queue(t, events)
	f.release(t)
	if err := testenv.Recv(t, leader, "the leader's append"); err != nil {
		t.Fatal(err)
	}
	if size := testenv.Recv(t, f.sizes, "the next group"); size != n {
		t.Fatalf("the queued appends ran in a group of %d, want all %d in one", size, n)
	}
	for i, ch := range chs {
		err := testenv.Recv(t, ch, "an append")
		if (err != nil) != (i == bad) {
			t.Errorf("append %d: err = %v, want an error only for %d", i, err, bad)
		}
		if i == bad && sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("bad append: %v, want invalid", err)
		}
	}
	if got := len(f.events(t)); got != n+1 {
		t.Fatalf("%d events stored, want %d (first, leader and %d of %d)", got, n+1, n-1, n)
	}
}

// TestAppendGroupLostConnectionFailsTheGroup: a group whose transaction
// fails for a reason that is no one event's (here its backend is
// terminated) fails every caller of the group with that error; no event
// is retried alone (after a lost COMMIT that could write it twice).
func TestAppendGroupLostConnectionFailsTheGroup(t *testing.T) {
	f := newAppendFixture(t)
	leader := f.leaderBlocked(t)
	const n = 5
	events := make([]*sm.Event, n)
	for i := range events {
		events[i] = groupEvent(fmt.Sprint("a", i))
	}
	chs := f.queue(t, events)
	f.terminateWaiting(t) // the leader's
	if err := testenv.Recv(t, leader, "the leader's append"); sm.ErrorCode(err) != sm.EUNAVAILABLE {
		t.Fatalf("leader: %v, want unavailable", err)
	}
	if size := testenv.Recv(t, f.sizes, "the next group"); size != n {
		t.Fatalf("the queued appends ran in a group of %d, want %d", size, n)
	}
	f.terminateWaiting(t) // the group's
	f.release(t)
	for i, ch := range chs {
		if err := testenv.Recv(t, ch, "an append"); sm.ErrorCode(err) != sm.EUNAVAILABLE {
			t.Errorf("append %d: %v, want the group's unavailable error", i, err)
		}
	}
	if got := len(f.events(t)); got != 1 {
		t.Fatalf("%d events stored, want only the first", got)
	}
	if err := f.s.AppendEvent(t.Context(), groupEvent("after"), nil); err != nil {
		t.Fatalf("append after the failed group: %v", err)
	}
}

// TestAppendQueuedCallerLeavesOnCancel: a caller whose context ends while
// its event waits in the queue returns ctx.Err() at once, and its event is
// not written; the queue goes on.
func TestAppendQueuedCallerLeavesOnCancel(t *testing.T) {
	f := newAppendFixture(t)
	leader := f.leaderBlocked(t)
	ctx, cancel := context.WithCancel(t.Context())
	queued := f.appendAsync(ctx, groupEvent("cancelled"))
	testenv.Eventually(t, "the append to queue", func() bool { return postgres.QueuedAppends(f.s) == 1 })
	cancel()
	if err := testenv.Recv(t, queued, "the cancelled append to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v, want context.Canceled", err)
	}
	if n := postgres.QueuedAppends(f.s); n != 0 {
		t.Fatalf("%d appends still queued", n)
	}
	f.release(t)
	if err := testenv.Recv(t, leader, "the leader's append"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AppendEvent(t.Context(), groupEvent("after"), nil); err != nil {
		t.Fatal(err)
	}
	for _, e := range f.events(t) {
		if e.ActorID == "cancelled" {
			t.Fatalf("the cancelled append's event was written (seq %d)", e.Seq)
		}
	}
}

// TestAppendGroupPanicFreesTheQueue: when the writer of a group panics,
// the panic goes on up its own caller, the group's other callers get an
// error, and later appends still run (the queue is not left busy).
func TestAppendGroupPanicFreesTheQueue(t *testing.T) {
	f := newAppendFixture(t)
	leader := f.leaderBlocked(t)
	chs := f.queue(t, []*sm.Event{groupEvent("a"), groupEvent("b")})
	f.panicNext.Store(true)
	f.release(t)
	if err := testenv.Recv(t, leader, "the leader's append"); err != nil {
		t.Fatal(err)
	}
	var panicked, failed int
	for _, ch := range chs {
		switch err := testenv.Recv(t, ch, "a queued append"); {
		case errors.Is(err, errPanicked):
			panicked++
		case err != nil:
			failed++
		}
	}
	if panicked != 1 || failed != 1 {
		t.Fatalf("%d appends panicked and %d failed, want 1 and 1", panicked, failed)
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if err := f.s.AppendEvent(t.Context(), groupEvent(fmt.Sprint("after", i)), nil); err != nil {
				t.Errorf("append after the panic: %v", err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	testenv.Recv(t, done, "the appends after the panic")
	if got := len(f.events(t)); got != 5 {
		t.Fatalf("%d events stored, want 5 (first, leader, 3 after)", got)
	}
}
