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
	var killed bool
	if err := a.pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
	}
	recv(t, reconnected, "OnReconnect after pg_terminate_backend")
	if b.pid.Load() == pid {
		t.Fatal("listener should be on a new backend")
	}
	if b.LastError() == nil {
		t.Fatal("LastError should tell why the listener dropped")
	}
	if err := a.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: "after"}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onB, "message after relisten"); m.SessionID != "after" {
		t.Fatalf("got %+v", m)
	}
}
