package cluster

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func newPostgresBusPair(t *testing.T) (a, b *PostgresBus) {
	t.Helper()
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	channel := testenv.Name("smbus")
	a, err := NewPostgresBus(ctx, newPool(t, url), channel, "A", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, a)
	b, err = NewPostgresBus(ctx, newPool(t, url), channel, "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, b)
	return a, b
}

func TestPostgresBusRoundTrip(t *testing.T) {
	a, b := newPostgresBusPair(t)
	onA, onB := make(chan sm.Message, 10), make(chan sm.Message, 10)
	defer a.Subscribe(func(m sm.Message) { onA <- m })()
	defer b.Subscribe(func(m sm.Message) { onB <- m })()

	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := a.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: "s1", At: at}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onB, "message on B"); m.SessionID != "s1" || m.Origin != "A" || !m.At.Equal(at) {
		t.Fatalf("B got %+v", m)
	}
	recv(t, onA, "own message on A")
	if err := b.Publish(context.Background(), sm.Message{Kind: sm.MsgSettingsChanged}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onA, "B's message on A"); m.Origin != "B" {
		t.Fatalf("A got %+v, want B's message (own echo delivered twice?)", m)
	}
}

func TestPostgresBusRejectsOversizedMessage(t *testing.T) {
	a, _ := newPostgresBusPair(t)
	big := make([]byte, pgMaxPayload)
	for i := range big {
		big[i] = 'x'
	}
	err := a.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: string(big)})
	if sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("err = %v, want invalid", err)
	}
}

func TestPostgresBusRelistensAfterTerminate(t *testing.T) {
	a, b := newPostgresBusPair(t)
	reconnected := make(chan struct{}, 10)
	b.OnReconnect(func() { reconnected <- struct{}{} })
	onB := make(chan sm.Message, 10)
	defer b.Subscribe(func(m sm.Message) { onB <- m })()

	pid := b.pid.Load()
	terminateBackend(t, a, pid)
	recv(t, reconnected, "OnReconnect after pg_terminate_backend")
	if b.pid.Load() == pid {
		t.Fatal("listener should be on a new backend")
	}
	if b.LastError() == nil {
		t.Fatal("LastError should tell why the listener dropped")
	}
	sendAndHear(t, context.Background(), a, onB, "after")
}

// TestPostgresBusPublishesWithThePoolExhausted: NOTIFY has a connection of
// its own, so a revocation does not wait behind the requests holding every
// pooled connection (it did: the fleet benchmark's remote refusals took
// seconds under load).
func TestPostgresBusPublishesWithThePoolExhausted(t *testing.T) {
	a, b := newPostgresBusPair(t)
	onB := inbox(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for range a.pool.Config().MaxConns {
		c, err := a.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	pubCtx, cancelPub := context.WithTimeout(ctx, 2*time.Second)
	defer cancelPub()
	sendAndHear(t, pubCtx, a, onB, "busy")
}

// TestPostgresBusNotifyConnectionComesBack: the NOTIFY connection killed
// under the bus (a failover, an admin's pg_terminate_backend) costs no
// message: the first publish after it takes a fresh connection and
// reaches the other instance.
func TestPostgresBusNotifyConnectionComesBack(t *testing.T) {
	a, b := newPostgresBusPair(t)
	onB := inbox(t, b)
	a.pubMu.Lock()
	pid := a.pub.PgConn().PID()
	a.pubMu.Unlock()
	terminateBackend(t, a, pid)
	eventually(t, "the NOTIFY backend to end", func() bool {
		var n int
		err := a.pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int32(pid)).Scan(&n)
		return err == nil && n == 0
	})
	sendAndHear(t, context.Background(), a, onB, "again")
	a.pubMu.Lock()
	newPID := a.pub.PgConn().PID()
	a.pubMu.Unlock()
	if newPID == pid {
		t.Fatal("NOTIFY should be on a new backend")
	}
}

// terminateBackend ends the server process pid through bus's pool.
func terminateBackend(t *testing.T, bus *PostgresBus, pid uint32) {
	t.Helper()
	var killed bool
	if err := bus.pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
	}
}

// inbox collects what bus delivers until the test ends.
func inbox(t *testing.T, bus *PostgresBus) chan sm.Message {
	c := make(chan sm.Message, 10)
	t.Cleanup(bus.Subscribe(func(m sm.Message) { c <- m }))
	return c
}

// sendAndHear publishes a session.ended of id on a and waits for it on onB.
func sendAndHear(t *testing.T, ctx context.Context, a *PostgresBus, onB chan sm.Message, id string) {
	t.Helper()
	if err := a.Publish(ctx, sm.Message{Kind: sm.MsgSessionEnded, SessionID: id}); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	if m := recv(t, onB, "message "+id); m.SessionID != id {
		t.Fatalf("got %+v, want %s", m, id)
	}
}
