package sessionmanager

import (
	"context"
	"slices"
	"sync"
	"time"
)

// ManualClock is a Clock for tests (the library's users' too): it stands still until the test moves it, and
// moving it fires the timers, tickers and AfterFunc callbacks that fall due,
// in time order, before Advance or Set returns. Safe for concurrent use. Its
// Now method also fits every `now func() time.Time` option.
//
// A loop under test receives on its timer's channel in its own goroutine:
// call WaitTimers first so the loop has armed its timer before the clock
// moves, then wait on the loop's effect (a store row, a channel), never on
// real time.
type ManualClock struct {
	mu       sync.Mutex
	t        time.Time
	seq      int
	pending  []*fakeTimer
	changed  *sync.Cond
	sleepers int
}

// NewManualClock returns a manual clock standing at t.
func NewManualClock(t time.Time) *ManualClock {
	c := &ManualClock{t: t}
	c.changed = sync.NewCond(&c.mu)
	return c
}

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Since is Now().Sub(t).
func (c *ManualClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Set moves the clock to t (backwards too), firing what falls due on the way.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	if t.Before(c.t) {
		c.t = t
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.moveTo(t)
}

// Advance moves the clock by d, firing what falls due on the way, and
// returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	to := c.t.Add(d)
	c.mu.Unlock()
	c.moveTo(to)
	return to
}

// moveTo steps from one due timer to the next up to to, so a ticker due
// three times fires three times (its receiver, like a real ticker's, keeps
// at most one tick) and an AfterFunc sees the time it was due at.
func (c *ManualClock) moveTo(to time.Time) {
	for {
		c.mu.Lock()
		next := c.due(to)
		if next == nil {
			if to.After(c.t) {
				c.t = to
			}
			c.mu.Unlock()
			return
		}
		if next.when.After(c.t) {
			c.t = next.when
		}
		now := c.t
		if next.period > 0 {
			next.when = next.when.Add(next.period)
		} else {
			c.remove(next)
		}
		c.mu.Unlock()
		next.fire(now, false)
	}
}

// due returns the earliest pending timer due at or before to (the first
// armed among equals), or nil. c.mu is held.
func (c *ManualClock) due(to time.Time) *fakeTimer {
	var first *fakeTimer
	for _, ft := range c.pending {
		if ft.when.After(to) {
			continue
		}
		if first == nil || ft.when.Before(first.when) || (ft.when.Equal(first.when) && ft.seq < first.seq) {
			first = ft
		}
	}
	return first
}

// Timers returns how many timers, tickers and AfterFunc callbacks are armed.
func (c *ManualClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// WaitTimers blocks until at least n timers, tickers or callbacks are armed:
// the loops under test are then waiting on the clock. It gives up with
// false after a minute of real time, for a test to fail on rather than hang.
func (c *ManualClock) WaitTimers(n int) bool {
	giveUp := time.AfterFunc(time.Minute, func() {
		c.mu.Lock()
		c.changed.Broadcast()
		c.mu.Unlock()
	})
	defer giveUp.Stop()
	deadline := time.Now().Add(time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) < n {
		if !time.Now().Before(deadline) {
			return false
		}
		c.changed.Wait()
	}
	return true
}

// Sleep waits until the clock has moved d on, or ctx ends; it reports
// whether the whole wait passed. The root's waits (a slowed login) go
// through it, so Sleepers tells a test who is held on the clock.
func (c *ManualClock) Sleep(ctx context.Context, d time.Duration) bool {
	t, ch := c.NewTimer(d)
	defer t.Stop()
	c.mu.Lock()
	c.sleepers++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.sleepers--
		c.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return false
	case <-ch:
		return true
	}
}

// Sleepers returns how many Sleep calls are waiting on the clock.
func (c *ManualClock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sleepers
}

// NewTimer returns a timer whose channel receives once the clock has moved
// d on.
func (c *ManualClock) NewTimer(d time.Duration) (TimerController, <-chan time.Time) {
	ft := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.arm(ft, d, 0)
	return ft, ft.ch
}

// NewTicker returns a ticker whose channel receives each time the clock
// has moved d on.
func (c *ManualClock) NewTicker(d time.Duration) (TickerController, <-chan time.Time) {
	if d <= 0 {
		panic("ManualClock: non-positive ticker period")
	}
	ft := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.arm(ft, d, d)
	return fakeTicker{ft}, ft.ch
}

// AfterFunc runs f (in the goroutine moving the clock) once the clock has
// moved d on.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) TimerController {
	ft := &fakeTimer{c: c, fn: f}
	c.arm(ft, d, 0)
	return ft
}

// arm (re)schedules ft at now+d; it reports whether ft was pending. A timer
// or callback of d <= 0 fires at once, as time.NewTimer(0) does.
func (c *ManualClock) arm(ft *fakeTimer, d, period time.Duration) bool {
	c.mu.Lock()
	was := c.remove(ft)
	c.seq++
	ft.seq, ft.when, ft.period = c.seq, c.t.Add(d), period
	now := c.t
	if d <= 0 && period == 0 {
		c.mu.Unlock()
		ft.fire(now, true)
		return was
	}
	c.pending = append(c.pending, ft)
	c.changed.Broadcast()
	c.mu.Unlock()
	return was
}

// disarm removes ft; it reports whether it was pending.
func (c *ManualClock) disarm(ft *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remove(ft)
}

// remove takes ft out of the pending list. c.mu is held.
func (c *ManualClock) remove(ft *fakeTimer) bool {
	i := slices.Index(c.pending, ft)
	if i < 0 {
		return false
	}
	c.pending = slices.Delete(c.pending, i, i+1)
	return true
}

// fakeTimer is one timer, ticker (period > 0) or callback (fn set) of a Clock.
type fakeTimer struct {
	c      *ManualClock
	ch     chan time.Time
	fn     func()
	seq    int
	when   time.Time
	period time.Duration
}

// Reset rearms the timer d from the clock's now.
func (ft *fakeTimer) Reset(d time.Duration) bool {
	// Like time.Timer since Go 1.23: no stale value is received after Reset.
	if ft.ch != nil {
		select {
		case <-ft.ch:
		default:
		}
	}
	return ft.c.arm(ft, d, 0)
}

// Stop disarms the timer.
func (ft *fakeTimer) Stop() bool { return ft.c.disarm(ft) }

// fire delivers the tick at now, or runs the callback: in the goroutine
// moving the clock, or in its own when armed already due (as time does).
func (ft *fakeTimer) fire(now time.Time, own bool) {
	switch {
	case ft.fn != nil && own:
		go ft.fn()
	case ft.fn != nil:
		ft.fn()
	default:
		select {
		case ft.ch <- now:
		default: // the receiver has not taken the last one: dropped, as time.Ticker does
		}
	}
}

// fakeTicker is the TickerController of a fakeTimer with a period.
type fakeTicker struct{ ft *fakeTimer }

// Reset changes the period and starts it again from the clock's now.
func (t fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("ManualClock: non-positive ticker period")
	}
	t.ft.c.arm(t.ft, d, d)
}

// Stop disarms the ticker.
func (t fakeTicker) Stop() { t.ft.c.disarm(t.ft) }

var (
	_ Clock   = (*ManualClock)(nil)
	_ Sleeper = (*ManualClock)(nil)
)
