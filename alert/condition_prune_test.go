package alert

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// TestDecisionsPruneAmortised: recording an alert's outcome does not scan
// every kept outcome each time (it did: O(n) per alert, O(n²) for a burst),
// yet outcomes older than decisionTTL still go and fresh ones stay.
func TestDecisionsPruneAmortised(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c := newConditionChecks(nil, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	const burst = 20000
	for i := range burst {
		if _, _, err := c.decide(ctx, &pendingCondition{RuleID: "r", AlertID: "a" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if c.scanned > 4*burst {
		t.Errorf("%d outcomes recorded scanned %d entries; want O(1) amortised (at most %d)", burst, c.scanned, 4*burst)
	}
	// Past the TTL, the next outcomes prune the old ones.
	now = now.Add(decisionTTL + time.Minute)
	for i := range 10 {
		if _, _, err := c.decide(ctx, &pendingCondition{RuleID: "r", AlertID: "b" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, old := c.decisions["a1"]; old || len(c.decisions) != 10 {
		t.Errorf("after the TTL: %d outcomes kept (a1 kept: %v); want the 10 fresh ones", len(c.decisions), old)
	}
}

// BenchmarkDecideWithManyOutcomes records outcomes with 50,000 already kept
// (a burst of alerts within decisionTTL).
func BenchmarkDecideWithManyOutcomes(b *testing.B) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c := newConditionChecks(nil, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for i := range 50000 {
		_, _, _ = c.decide(ctx, &pendingCondition{RuleID: "r", AlertID: "a" + strconv.Itoa(i)})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, _, _ = c.decide(ctx, &pendingCondition{RuleID: "r", AlertID: "b" + strconv.Itoa(i)})
	}
}
