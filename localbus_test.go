package sessionmanager

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func TestLocalBusDeliversInOrderToEverySubscriber(t *testing.T) {
	b := NewLocalBus(nil)
	first, second := make(chan string, 10), make(chan string, 10)
	defer b.Subscribe(func(m Message) { first <- m.SessionID })()
	defer b.Subscribe(func(m Message) { second <- m.SessionID })()
	for _, sid := range []string{"a", "b", "c"} {
		if err := b.Publish(context.Background(), Message{Kind: MsgSessionEnded, SessionID: sid}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []chan string{first, second} {
		for _, want := range []string{"a", "b", "c"} {
			if got := testenv.Recv(t, ch, "message "+want); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
}

// TestLocalBusUnsubscribeEndsItsGoroutine: a subscriber's goroutine is
// owned by its subscription: unsubscribe ends it.
func TestLocalBusUnsubscribeEndsItsGoroutine(t *testing.T) {
	b := NewLocalBus(nil)
	unsubs := []func(){b.Subscribe(func(Message) {}), b.Subscribe(func(Message) {})}
	subs := *b.snap.Load()
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions, want 2", len(subs))
	}
	for _, u := range unsubs {
		u()
	}
	for _, s := range subs {
		testenv.Recv(t, s.ended, "a delivery goroutine to end")
	}
	if b.snap.Load() == nil || len(*b.snap.Load()) != 0 {
		t.Fatal("unsubscribed subscriptions still listed")
	}
}

func TestLocalBusUnsubscribeStopsDelivery(t *testing.T) {
	b := NewLocalBus(nil)
	stopped := make(chan string, 10)
	kept := make(chan string, 10)
	unsub := b.Subscribe(func(m Message) { stopped <- m.SessionID })
	defer b.Subscribe(func(m Message) { kept <- m.SessionID })()
	unsub()
	unsub() // twice is harmless
	_ = b.Publish(context.Background(), Message{Kind: MsgSessionEnded, SessionID: "x"})
	testenv.Recv(t, kept, "message on the kept subscriber")
	select {
	case <-stopped:
		t.Fatal("an unsubscribed function was called")
	default:
	}
}

func TestLocalBusSlowSubscriberDoesNotBlockPublish(t *testing.T) {
	b := NewLocalBus(nil)
	release := make(chan struct{})
	defer close(release)
	defer b.Subscribe(func(Message) { <-release })()
	ctx := context.Background()
	// One message is in the stuck call, localQueueSize fill the queue.
	for range localQueueSize + 1 {
		_ = b.Publish(ctx, Message{Kind: MsgSessionChanged})
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		_ = b.Publish(short, Message{Kind: MsgSessionChanged})
		close(done)
	}()
	testenv.Recv(t, done, "Publish to return despite a stuck subscriber")
	testenv.Eventually(t, "a dropped message", func() bool { return b.Dropped() >= 1 })
}

func TestLocalBusSurvivesPanickingSubscriber(t *testing.T) {
	b := NewLocalBus(nil)
	got := make(chan string, 2)
	defer b.Subscribe(func(m Message) {
		if m.SessionID == "boom" {
			panic("subscriber bug")
		}
		got <- m.SessionID
	})()
	_ = b.Publish(context.Background(), Message{SessionID: "boom"})
	_ = b.Publish(context.Background(), Message{SessionID: "after"})
	if v := testenv.Recv(t, got, "message after a panic"); v != "after" {
		t.Fatalf("got %q", v)
	}
}

func BenchmarkLocalBusPublish(b *testing.B) {
	bus := NewLocalBus(nil)
	defer bus.Subscribe(func(Message) {})()
	m := Message{Kind: MsgSessionEnded, SessionID: "s1", At: time.Now()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = bus.Publish(ctx, m)
	}
}

// TestLocalBusSubscriberMayUseTheBus: a subscriber that publishes and
// subscribes from its callback (as the dashboard's event hub does) does
// not deadlock the bus.
func TestLocalBusSubscriberMayUseTheBus(t *testing.T) {
	b := NewLocalBus(nil)
	got := make(chan string, 4)
	defer b.Subscribe(func(m Message) {
		if m.SessionID == "first" {
			defer b.Subscribe(func(Message) {})()
			_ = b.Publish(context.Background(), Message{SessionID: "second"})
		}
		got <- m.SessionID
	})()
	_ = b.Publish(context.Background(), Message{SessionID: "first"})
	for _, want := range []string{"first", "second"} {
		if v := testenv.Recv(t, got, want); v != want {
			t.Fatalf("got %q, want %q", v, want)
		}
	}
}

func TestMemoryCounterWindows(t *testing.T) {
	ctx := context.Background()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := NewMemoryCounter(clock)
	steps := []struct {
		advance time.Duration
		op      string // "incr", "get", "reset"
		key     string
		want    int64
	}{
		{0, "incr", "a", 1},
		{10 * time.Second, "incr", "a", 2},
		{0, "incr", "b", 1},
		{0, "get", "a", 2},
		{49 * time.Second, "incr", "a", 3}, // 59s after the first: same window
		{time.Second, "get", "a", 0},       // 60s: expired
		{0, "incr", "a", 1},                // a new window starts
		{0, "get", "b", 1},                 // b started at 10s: live until 70s
		{0, "reset", "a", 0},
		{0, "get", "a", 0},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		var got int64
		var err error
		switch s.op {
		case "incr":
			got, err = c.Incr(ctx, s.key, time.Minute)
		case "get":
			got, err = c.Get(ctx, s.key)
		case "reset":
			err = c.Reset(ctx, s.key)
		}
		if err != nil || got != s.want {
			t.Fatalf("step %d %s(%s) = %d, %v; want %d", i, s.op, s.key, got, err, s.want)
		}
	}
	if _, err := c.Incr(ctx, "a", 0); ErrorCode(err) != EINVALID {
		t.Fatalf("zero window: %v", err)
	}
}

func TestMemoryCounterSweepsAndBoundsMemory(t *testing.T) {
	ctx := context.Background()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := NewMemoryCounter(clock)
	c.maxKeys = 50
	for i := range 40 {
		_, _ = c.Incr(ctx, fmt.Sprint("old", i), time.Second)
	}
	clock.Advance(2 * memoryCounterSweep)
	_, _ = c.Incr(ctx, "fresh", time.Hour)
	if n := c.len(); n != 1 {
		t.Fatalf("%d keys after the sweep, want 1", n)
	}
	for i := range 200 {
		_, _ = c.Incr(ctx, fmt.Sprint("flood", i), time.Hour)
	}
	if n := c.len(); n > c.maxKeys {
		t.Fatalf("%d keys, want at most %d", n, c.maxKeys)
	}
}

func (c *MemoryCounter) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func BenchmarkMemoryCounterIncr(b *testing.B) {
	c := NewMemoryCounter(nil)
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("login:", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _ = c.Incr(ctx, keys[i&1023], time.Minute)
		i++
	}
}

// TestLocalBusSlowSubscriberDoesNotHoldSubscribe: a Publish waiting for
// room in a slow subscriber's full queue does not block a Subscribe (a
// dashboard tab opening), nor, behind it, every other publisher.
func TestLocalBusSlowSubscriberDoesNotHoldSubscribe(t *testing.T) {
	b := NewLocalBus(nil)
	release := make(chan struct{})
	unsub := b.Subscribe(func(Message) { <-release })
	defer unsub()
	defer close(release)
	ctx := context.Background()
	for range 1025 { // the first is being handled, 1024 fill the queue
		_ = b.Publish(ctx, Message{Kind: "fill"})
	}
	order := make(chan string, 2)
	go func() { _ = b.Publish(ctx, Message{Kind: "waits"}); order <- "publish" }()
	time.Sleep(50 * time.Millisecond) // let that publish reach the full queue
	go func() { u := b.Subscribe(func(Message) {}); u(); order <- "subscribe" }()
	if first := <-order; first != "subscribe" {
		t.Fatalf("%s finished first: Subscribe waited for a publisher stuck on a slow subscriber", first)
	}
	<-order
}
