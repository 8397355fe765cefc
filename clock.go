package sessionmanager

import (
	"context"
	"time"
)

// Clock tells the time and makes the timers and tickers that drive the
// background work (last-seen flushes, sweeps, retries, refreshes, heartbeats).
// It has the shape of tailscale's tstime.Clock. Production uses SystemClock;
// tests pass a manual one (internal/testenv.Clock) and move it forward, so a
// timeout rule or a loop is exercised without waiting for real time.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Since is Now().Sub(t).
	Since(t time.Time) time.Duration
	// NewTimer is time.NewTimer: the channel receives once, after d.
	NewTimer(d time.Duration) (TimerController, <-chan time.Time)
	// NewTicker is time.NewTicker: the channel receives every d, and a
	// receiver that falls behind misses ticks rather than queueing them.
	NewTicker(d time.Duration) (TickerController, <-chan time.Time)
	// AfterFunc is time.AfterFunc: f runs once, after d.
	AfterFunc(d time.Duration, f func()) TimerController
}

// TimerController stops or rearms a timer made by a Clock, as *time.Timer.
type TimerController interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// TickerController stops or changes a ticker made by a Clock, as *time.Ticker.
type TickerController interface {
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time in UTC, truncated to microseconds, the
// precision every store keeps.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Since is time.Since.
func (SystemClock) Since(t time.Time) time.Duration { return time.Since(t) }

// NewTimer is time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) (TimerController, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

// NewTicker is time.NewTicker.
func (SystemClock) NewTicker(d time.Duration) (TickerController, <-chan time.Time) {
	t := time.NewTicker(d)
	return t, t.C
}

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) TimerController {
	return time.AfterFunc(d, f)
}

// Sleeper is a Clock that waits itself (optional): a test's manual clock,
// which then knows who is held on it, as opposed to the loops' timers.
type Sleeper interface {
	Sleep(ctx context.Context, d time.Duration) bool
}

// sleep waits d on clock, or until ctx ends; it reports whether the whole
// wait passed.
func sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	if s, ok := clock.(Sleeper); ok {
		return s.Sleep(ctx, d)
	}
	t, c := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}
