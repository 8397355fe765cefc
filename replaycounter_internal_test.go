package sessionmanager

import (
	"context"
	"testing"
	"time"
)

// TestReplayCounterRefusesWhenFull: the jti store never forgets a live jti
// to make room (which would allow its replay): full, it refuses new ones
// (503) until entries expire.
func TestReplayCounterRefusesWhenFull(t *testing.T) {
	ctx := context.Background()
	clock := NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := newReplayCounter(clock, 2)
	for _, k := range []string{"a", "b"} {
		if n, err := c.Incr(ctx, k, time.Minute); n != 1 || err != nil {
			t.Fatalf("%s: %d %v", k, n, err)
		}
	}
	if _, err := c.Incr(ctx, "c", time.Minute); ErrorCode(err) != EUNAVAILABLE {
		t.Fatalf("full: got %v, want EUNAVAILABLE", err)
	}
	if n, _ := c.Incr(ctx, "a", time.Minute); n != 2 {
		t.Fatalf("a replayed jti while full: count %d, want 2", n)
	}
	clock.Advance(2 * time.Minute)
	if n, err := c.Incr(ctx, "c", time.Minute); n != 1 || err != nil {
		t.Fatalf("after expiry: %d %v", n, err)
	}
}
