package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func newActivity(t testing.TB) (*RedisActivity, *RedisActivity) {
	t.Helper()
	prefix := testenv.Name("smact") + ":"
	c1, c2 := newRedis(t, testenv.Name("w1")), newRedis(t, testenv.Name("w2"))
	cleanupKeys(t, c1, prefix)
	return NewRedisActivity(c1, prefix), NewRedisActivity(c2, prefix)
}

func TestRedisActivityKeepsLatest(t *testing.T) {
	ctx := context.Background()
	w1, w2 := newActivity(t)
	base := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	if err := w1.WriteLastSeen(ctx, []sm.LastSeen{{SessionID: "s1", At: base.Add(time.Minute)}, {SessionID: "s2", At: base}}); err != nil {
		t.Fatal(err)
	}
	// An older note from another instance must not lower s1; a newer one raises s2.
	if err := w2.WriteLastSeen(ctx, []sm.LastSeen{{SessionID: "s1", At: base}, {SessionID: "s2", At: base.Add(2 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	for sid, want := range map[string]time.Time{"s1": base.Add(time.Minute), "s2": base.Add(2 * time.Minute)} {
		got, found, err := w1.Get(ctx, sid)
		if err != nil || !found || !got.Equal(want) {
			t.Fatalf("Get(%s) = %v, %v, %v; want %v", sid, got, found, err, want)
		}
	}
	if _, found, err := w1.Get(ctx, "nope"); err != nil || found {
		t.Fatalf("Get(nope) found=%v err=%v", found, err)
	}
	notes, err := w2.Drain(ctx, 10)
	if err != nil || len(notes) != 2 {
		t.Fatalf("Drain = %v, %v", notes, err)
	}
	if notes[0].SessionID != "s1" || !notes[0].At.Equal(base.Add(time.Minute)) {
		t.Fatalf("first drained note = %+v, want s1 (oldest first)", notes[0])
	}
	if again, _ := w1.Drain(ctx, 10); len(again) != 0 {
		t.Fatalf("drained twice: %v", again)
	}
}

func TestRedisActivityDrainTakesEachNoteOnce(t *testing.T) {
	ctx := context.Background()
	w1, w2 := newActivity(t)
	const total = 1000
	base := time.Now().UTC().Truncate(time.Microsecond)
	var notes []sm.LastSeen
	for i := range total {
		notes = append(notes, sm.LastSeen{SessionID: fmt.Sprintf("s%04d", i), At: base.Add(time.Duration(i) * time.Millisecond)})
	}
	if err := w1.WriteLastSeen(ctx, notes); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, a := range []*RedisActivity{w1, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := a.Drain(ctx, 37)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					seen[n.SessionID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("drained %d distinct notes, want %d", len(seen), total)
	}
	for sid, n := range seen {
		if n != 1 {
			t.Fatalf("%s drained %d times", sid, n)
		}
	}
}

func TestActivityMoverRequeuesOnFailure(t *testing.T) {
	ctx := context.Background()
	w, _ := newActivity(t)
	base := time.Now().UTC().Truncate(time.Microsecond)
	if err := w.WriteLastSeen(ctx, []sm.LastSeen{{SessionID: "a", At: base}, {SessionID: "b", At: base}, {SessionID: "c", At: base}}); err != nil {
		t.Fatal(err)
	}
	var stored []sm.LastSeen
	fail := true
	m := &ActivityMover{Activity: w, Batch: 2, Touch: func(_ context.Context, notes []sm.LastSeen) error {
		if fail {
			// A newer note arrives while the store is down: it must win.
			_ = w.WriteLastSeen(ctx, []sm.LastSeen{{SessionID: "a", At: base.Add(time.Hour)}})
			return errors.New("store down")
		}
		stored = append(stored, notes...)
		return nil
	}}
	if n, err := m.MoveOnce(ctx); err == nil || n != 0 {
		t.Fatalf("MoveOnce = %d, %v; want the store's error", n, err)
	}
	fail = false
	n, err := m.MoveOnce(ctx)
	if err != nil || n != 3 {
		t.Fatalf("MoveOnce = %d, %v; want 3 notes moved", n, err)
	}
	got := map[string]time.Time{}
	for _, s := range stored {
		got[s.SessionID] = s.At
	}
	if len(got) != 3 || !got["a"].Equal(base.Add(time.Hour)) || !got["b"].Equal(base) {
		t.Fatalf("stored %v", got)
	}
}

func BenchmarkRedisActivityWrite(b *testing.B) {
	w, _ := newActivity(b)
	ctx := context.Background()
	notes := make([]sm.LastSeen, 100)
	now := time.Now()
	for i := range notes {
		notes[i] = sm.LastSeen{SessionID: fmt.Sprintf("sess-%03d", i), At: now}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteLastSeen(ctx, notes); err != nil {
			b.Fatal(err)
		}
	}
}

func TestActivityMoverRunMovesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, _ := newActivity(t)
	got := make(chan []sm.LastSeen, 10)
	clock := sm.NewManualClock(time.Now())
	m := &ActivityMover{Activity: w, Interval: time.Minute, Clock: clock, Touch: func(_ context.Context, notes []sm.LastSeen) error {
		got <- notes
		return nil
	}}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, 1) }()
	// The note goes with Run's first move or, at the latest, with the one
	// the minute on the clock brings.
	clock.WaitTimers(1)
	if err := w.WriteLastSeen(ctx, []sm.LastSeen{{SessionID: "s", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if notes := recv(t, got, "notes in the store"); len(notes) != 1 || notes[0].SessionID != "s" {
		t.Fatalf("moved %v", notes)
	}
	cancel()
	if err := recv(t, done, "Run to stop"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}
