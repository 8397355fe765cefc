package sessionmanager_test

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

var clockEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// received drains what c holds now, without waiting.
func receivedTicks(c <-chan time.Time) []time.Time {
	var got []time.Time
	for {
		select {
		case v := <-c:
			got = append(got, v)
		default:
			return got
		}
	}
}

func TestManualClockTimerFiresOnceWhenDue(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	tm, ch := c.NewTimer(time.Second)
	c.Advance(999 * time.Millisecond)
	if got := receivedTicks(ch); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	c.Advance(time.Millisecond)
	if got := receivedTicks(ch); len(got) != 1 || !got[0].Equal(clockEpoch.Add(time.Second)) {
		t.Fatalf("at 1s: %v, want one tick at clockEpoch+1s", got)
	}
	c.Advance(time.Hour)
	if got := receivedTicks(ch); len(got) != 0 || c.Timers() != 0 {
		t.Fatalf("a timer fired twice: %v (%d armed)", got, c.Timers())
	}
	if tm.Stop() {
		t.Error("Stop of a fired timer reports it pending")
	}
	if tm.Reset(time.Minute); c.Timers() != 1 {
		t.Fatal("Reset did not arm the timer again")
	}
	c.Advance(time.Minute)
	if got := receivedTicks(ch); len(got) != 1 {
		t.Fatalf("after Reset: %v", got)
	}
}

func TestManualClockTickerKeepsOneTickLikeTimeTicker(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	tk, ch := c.NewTicker(time.Second)
	c.Advance(3 * time.Second) // nobody receives: two of the three ticks are dropped
	if got := receivedTicks(ch); len(got) != 1 || !got[0].Equal(clockEpoch.Add(time.Second)) {
		t.Fatalf("3s unread: %v, want the first tick only", got)
	}
	c.Advance(time.Second)
	if got := receivedTicks(ch); len(got) != 1 || !got[0].Equal(clockEpoch.Add(4*time.Second)) {
		t.Fatalf("4s: %v", got)
	}
	tk.Reset(10 * time.Second)
	c.Advance(9 * time.Second)
	if got := receivedTicks(ch); len(got) != 0 {
		t.Fatalf("after Reset(10s), 9s on: %v", got)
	}
	tk.Stop()
	c.Advance(time.Hour)
	if got := receivedTicks(ch); len(got) != 0 || c.Timers() != 0 {
		t.Fatalf("a stopped ticker ticked: %v", got)
	}
}

func TestManualClockAfterFuncRunsInOrderAtItsTime(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	var order []string
	var at []time.Time
	c.AfterFunc(2*time.Second, func() { order = append(order, "2s"); at = append(at, c.Now()) })
	c.AfterFunc(time.Second, func() { order = append(order, "1s"); at = append(at, c.Now()) })
	stopped := c.AfterFunc(time.Second, func() { order = append(order, "stopped") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending callback reports it gone")
	}
	c.Advance(time.Minute) // callbacks run before Advance returns
	if len(order) != 2 || order[0] != "1s" || order[1] != "2s" {
		t.Fatalf("callbacks ran %v, want [1s 2s]", order)
	}
	if !at[0].Equal(clockEpoch.Add(time.Second)) || !at[1].Equal(clockEpoch.Add(2*time.Second)) {
		t.Errorf("callbacks saw %v, want the times they were due at", at)
	}
	if !c.Now().Equal(clockEpoch.Add(time.Minute)) {
		t.Errorf("now %v, want clockEpoch+1m", c.Now())
	}
}

func TestManualClockSetBackwardsFiresNothing(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	_, ch := c.NewTimer(time.Second)
	c.Set(clockEpoch.Add(-time.Hour))
	if got := receivedTicks(ch); len(got) != 0 {
		t.Fatalf("moving back fired %v", got)
	}
	c.Set(clockEpoch.Add(time.Second))
	if got := receivedTicks(ch); len(got) != 1 {
		t.Fatalf("Set forward past the due time: %v", got)
	}
}

func TestManualClockWaitTimersReturnsOnceArmed(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	armed := make(chan bool)
	go func() { armed <- c.WaitTimers(2) }()
	c.NewTimer(time.Second)
	c.NewTicker(time.Second)
	if !<-armed {
		t.Fatal("WaitTimers gave up with two timers armed")
	}
}

func TestManualClockTimerOfZeroFiresAtOnce(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	_, ch := c.NewTimer(0)
	if got := receivedTicks(ch); len(got) != 1 || !got[0].Equal(clockEpoch) {
		t.Fatalf("NewTimer(0): %v, want one tick now, as time.NewTimer(0)", got)
	}
	ran := make(chan time.Time)
	c.AfterFunc(-time.Second, func() { ran <- c.Now() })
	if at := <-ran; !at.Equal(clockEpoch) {
		t.Fatalf("AfterFunc(-1s) ran at %v", at)
	}
	if c.Timers() != 0 {
		t.Fatalf("%d timers left armed", c.Timers())
	}
}

func TestManualClockSleepCountsWhoIsHeld(t *testing.T) {
	c := sm.NewManualClock(clockEpoch)
	woke := make(chan bool)
	go func() { woke <- c.Sleep(context.Background(), time.Second) }()
	testenv.Eventually(t, "the sleeper to wait", func() bool { return c.Sleepers() == 1 })
	c.Advance(time.Second)
	if !<-woke || c.Sleepers() != 0 {
		t.Fatalf("after the second passed: %d sleepers", c.Sleepers())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { woke <- c.Sleep(ctx, time.Hour) }()
	testenv.Eventually(t, "the second sleeper", func() bool { return c.Sleepers() == 1 })
	cancel()
	if <-woke || c.Timers() != 0 {
		t.Fatalf("a cancelled sleep reports a full wait or leaves %d timers", c.Timers())
	}
}
