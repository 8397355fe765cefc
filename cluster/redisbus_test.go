package cluster

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func newRedisBusPair(t *testing.T) (a, b *RedisBus, nameB string) {
	t.Helper()
	ctx := context.Background()
	channel := testenv.Name("smbus")
	nameB = testenv.Name("smb")
	a, err := NewRedisBus(ctx, newRedis(t, testenv.Name("sma")), channel, "A", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, a)
	b, err = NewRedisBus(ctx, newRedis(t, nameB), channel, "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, b)
	return a, b, nameB
}

func TestRedisBusRoundTrip(t *testing.T) {
	a, b, _ := newRedisBusPair(t)
	onB := make(chan sm.Message, 10)
	onA := make(chan sm.Message, 10)
	defer b.Subscribe(func(m sm.Message) { onB <- m })()
	defer a.Subscribe(func(m sm.Message) { onA <- m })()

	at := time.Now().UTC().Truncate(time.Microsecond)
	sent := sm.Message{Kind: sm.MsgUserSessionsEnd, UserID: "u1", Reason: sm.EndReason("manual"), At: at, Origin: "spoofed"}
	if err := a.Publish(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	got := recv(t, onB, "message on B")
	sent.Origin = "A" // the bus stamps its own origin
	if got.Kind != sent.Kind || got.UserID != sent.UserID || got.Reason != sent.Reason || !got.At.Equal(at) || got.Origin != "A" {
		t.Fatalf("B got %+v, want %+v", got, sent)
	}
	// A hears its own message exactly once: locally, the echo is skipped.
	recv(t, onA, "own message on A")
	// A message from B proves A's echo had time to arrive and be skipped.
	if err := b.Publish(context.Background(), sm.Message{Kind: sm.MsgSettingsChanged}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onA, "B's message on A"); m.Kind != sm.MsgSettingsChanged || m.Origin != "B" {
		t.Fatalf("A got %+v, want B's settings message (own echo delivered twice?)", m)
	}
	if !a.Healthy() || !b.Healthy() {
		t.Fatal("buses should be healthy")
	}
}

func TestRedisBusResubscribesAfterKill(t *testing.T) {
	a, b, nameB := newRedisBusPair(t)
	reconnected := make(chan struct{}, 10)
	b.OnReconnect(func() { reconnected <- struct{}{} })
	onB := make(chan sm.Message, 100)
	defer b.Subscribe(func(m sm.Message) { onB <- m })()

	if n := killPubSub(t, newRedis(t, testenv.Name("admin")), nameB); n != 1 {
		t.Fatalf("killed %d subscriber connections, want 1", n)
	}
	recv(t, reconnected, "OnReconnect after CLIENT KILL")
	if err := b.LastError(); err == nil {
		t.Fatal("LastError should tell why the link dropped")
	}
	if !b.Healthy() {
		t.Fatal("bus should be healthy after resubscribing")
	}
	if err := a.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: "after-kill"}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onB, "message after reconnect"); m.SessionID != "after-kill" {
		t.Fatalf("got %+v", m)
	}
}

func TestRedisBusWatchdogReplacesSilentConnection(t *testing.T) {
	old := redisPingEvery
	redisPingEvery = 50 * time.Millisecond
	defer func() { redisPingEvery = old }()
	ctx := context.Background()
	channel := testenv.Name("smbus")
	proxy, viaProxy := redisViaProxy(t)
	a, err := NewRedisBus(ctx, newRedis(t, testenv.Name("sma")), channel, "A", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, a)
	b, err := NewRedisBus(ctx, newRedisFromOptions(t, viaProxy), channel, "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, b)
	reconnected := make(chan struct{}, 10)
	b.OnReconnect(func() { reconnected <- struct{}{} })
	onB := make(chan sm.Message, 10)
	defer b.Subscribe(func(m sm.Message) { onB <- m })()

	// A half-open socket: no error, just silence. Only the unanswered
	// ping tells; the watchdog must then subscribe on a new connection.
	proxy.freeze()
	recv(t, reconnected, "OnReconnect after the silent connection was replaced")
	if err := a.Publish(ctx, sm.Message{Kind: sm.MsgSessionEnded, SessionID: "s"}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onB, "message on the new subscription"); m.SessionID != "s" {
		t.Fatalf("got %+v", m)
	}
}

func TestNewRedisBusFailsOnUnreachableRedis(t *testing.T) {
	opt, _ := ParseRedisURL("redis://127.0.0.1:1/0")
	c := newRedisFromOptions(t, opt.Single)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := NewRedisBus(ctx, c, "ch", "", nil); sm.ErrorCode(err) != sm.EUNAVAILABLE {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

// TestBusesRunUnderTheirOwner: a bus receives other instances' messages
// while its owner runs Run, Run returns when its context ends and runs
// once, and Close after that still releases the connection.
func TestBusesRunUnderTheirOwner(t *testing.T) {
	ctx := context.Background()
	channel := testenv.Name("smbus")
	a, err := NewRedisBus(ctx, newRedis(t, testenv.Name("sma")), channel, "A", nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, a)
	b, err := NewRedisBus(ctx, newRedis(t, testenv.Name("smb")), channel, "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	onB := make(chan sm.Message, 10)
	defer b.Subscribe(func(m sm.Message) { onB <- m })()
	const watch = "(*RedisBus).watch"
	eventually(t, "a's watchdog to run", func() bool { return testenv.Goroutines(watch) == 1 })
	watchers := testenv.Goroutines(watch)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- b.Run(runCtx) }()
	if err := a.Publish(ctx, sm.Message{Kind: sm.MsgSessionEnded, SessionID: "while-running"}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, onB, "a message while Run runs"); m.SessionID != "while-running" {
		t.Fatalf("got %+v", m)
	}
	stop()
	if err := recv(t, ran, "Run to return when its context ends"); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Goroutines(watch); n != watchers {
		t.Fatalf("%d watchdogs after b's Run returned, want a's %d: Run left one behind", n, watchers)
	}
	if err := b.Run(ctx); sm.ErrorCode(err) != sm.ECONFLICT {
		t.Fatalf("a second Run: %v, want a conflict", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
