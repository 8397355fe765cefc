package license

import (
	"context"
	"time"
)

// Run re-reads and re-verifies the licence every CheckInterval (daily by
// default), and also wakes when the warning period starts and at the
// expiry instant, so the warning and the "expired" error are logged on
// time. It picks up a key Set on another instance through the store. It
// returns when ctx ends. Allows needs none of this: it checks the expiry
// itself on every call.
func (s *State) Run(ctx context.Context) {
	for {
		timer := time.NewTimer(s.nextCheck(s.now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if _, err := s.Load(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("licence: re-check failed; the licence in force is kept", "err", err)
		}
	}
}

// nextCheck is how long Run sleeps from now: the interval, or less when
// the warning period starts or the licence expires before that.
func (s *State) nextCheck(now time.Time) time.Duration {
	wait := s.opts.CheckInterval
	cur := s.cur.Load()
	if cur.lic == nil {
		return wait
	}
	for _, at := range []time.Time{cur.expiry.Add(-WarnBefore), cur.expiry} {
		if d := at.Sub(now); d > 0 && d < wait {
			wait = d
		}
	}
	return wait
}
