package cluster

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestLocalBusDeliversInOrderToEverySubscriber(t *testing.T) {
	b := NewLocalBus()
	first, second := make(chan string, 10), make(chan string, 10)
	defer b.Subscribe(func(m sm.Message) { first <- m.SessionID })()
	defer b.Subscribe(func(m sm.Message) { second <- m.SessionID })()
	for _, sid := range []string{"a", "b", "c"} {
		if err := b.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: sid}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []chan string{first, second} {
		for _, want := range []string{"a", "b", "c"} {
			if got := recv(t, ch, "message "+want); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
}

func TestLocalBusUnsubscribeStopsDelivery(t *testing.T) {
	b := NewLocalBus()
	stopped := make(chan string, 10)
	kept := make(chan string, 10)
	unsub := b.Subscribe(func(m sm.Message) { stopped <- m.SessionID })
	defer b.Subscribe(func(m sm.Message) { kept <- m.SessionID })()
	unsub()
	unsub() // twice is harmless
	_ = b.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: "x"})
	recv(t, kept, "message on the kept subscriber")
	select {
	case <-stopped:
		t.Fatal("an unsubscribed function was called")
	default:
	}
}

func TestLocalBusSlowSubscriberDoesNotBlockPublish(t *testing.T) {
	b := NewLocalBus()
	release := make(chan struct{})
	defer close(release)
	defer b.Subscribe(func(sm.Message) { <-release })()
	ctx := context.Background()
	// One message is in the stuck call, localQueueSize fill the queue.
	for range localQueueSize + 1 {
		_ = b.Publish(ctx, sm.Message{Kind: sm.MsgSessionChanged})
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		_ = b.Publish(short, sm.Message{Kind: sm.MsgSessionChanged})
		close(done)
	}()
	recv(t, done, "Publish to return despite a stuck subscriber")
	eventually(t, "a dropped message", func() bool { return b.Dropped() >= 1 })
}

func TestLocalBusSurvivesPanickingSubscriber(t *testing.T) {
	b := NewLocalBus()
	got := make(chan string, 2)
	defer b.Subscribe(func(m sm.Message) {
		if m.SessionID == "boom" {
			panic("subscriber bug")
		}
		got <- m.SessionID
	})()
	_ = b.Publish(context.Background(), sm.Message{SessionID: "boom"})
	_ = b.Publish(context.Background(), sm.Message{SessionID: "after"})
	if v := recv(t, got, "message after a panic"); v != "after" {
		t.Fatalf("got %q", v)
	}
}

func BenchmarkLocalBusPublish(b *testing.B) {
	bus := NewLocalBus()
	defer bus.Subscribe(func(sm.Message) {})()
	m := sm.Message{Kind: sm.MsgSessionEnded, SessionID: "s1", At: time.Now()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = bus.Publish(ctx, m)
	}
}
