package sessionmanager

import (
	"context"
	"errors"
	"time"
)

// Run does the background work until ctx ends: last-seen flushes, the
// inactivity/idle/expiry sweep, the nightly purge and cache pruning. Jobs
// that must run once across instances go through Config.Leader.
func (m *Manager) Run(ctx context.Context) error {
	if _, err := m.loadSettings(ctx); err != nil {
		m.log.Warn("settings not loaded; defaults apply until they are", "err", err)
	}
	done := make(chan struct{}, 3)
	go func() { m.flushLoop(ctx); done <- struct{}{} }()
	go func() { m.leader(ctx, "sweep", m.sweepLoop); done <- struct{}{} }()
	go func() { m.leader(ctx, "purge", m.purgeLoop); done <- struct{}{} }()
	<-ctx.Done()
	for range 3 {
		<-done
	}
	return nil
}

func (m *Manager) leader(ctx context.Context, job string, fn func(context.Context) error) {
	if m.cfg.Leader != nil {
		m.cfg.Leader(ctx, job, fn)
		return
	}
	if err := fn(ctx); err != nil && ctx.Err() == nil {
		m.log.Error("job stopped", "job", job, "err", err)
	}
}

// flushPeriod is how often pending last-seen notes are written: a fraction
// of the interval so a note reaches the store within about one interval.
func (m *Manager) flushPeriod() time.Duration {
	return min(max(m.cfg.LastSeenInterval/5, 50*time.Millisecond), time.Second)
}

func (m *Manager) flushLoop(ctx context.Context) {
	t, tick := m.clock.NewTicker(m.flushPeriod())
	defer t.Stop()
	prune, pruneTick := m.clock.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			_ = m.Flush(ctx)
		case <-pruneTick:
			// Cached states older than the longest access token are useless:
			// the next request reads the store anyway.
			now := m.clock.Now()
			m.states.prune(now.Add(-m.cfg.AccessTokenTTL-m.cfg.StateCacheTTL), now)
			m.protect.prune(now.Add(-m.cfg.AccessTokenTTL - m.cfg.StateCacheTTL))
		}
	}
}

// Flush writes pending last-seen notes and retries failed audit events
// now (also called on shutdown).
func (m *Manager) Flush(ctx context.Context) error {
	m.retryAudits(ctx)
	n, err := m.seen.flush(ctx, m.cfg.Activity)
	if n > 0 && m.cfg.Metrics != nil {
		m.cfg.Metrics.LastSeenFlush(n)
	}
	if err != nil {
		m.log.Warn("last-seen flush failed; kept for the next try", "err", err)
	}
	if terr := m.flushTrail(ctx); terr != nil {
		m.log.Warn("session trail flush failed; kept for the next try", "err", terr)
		err = errors.Join(err, terr)
	}
	return err
}

// sweepPeriod is how often the inactivity sweep runs (a stored timeout
// is applied at the next sweep, at most 30s late).
func (m *Manager) sweepPeriod() time.Duration {
	return min(max(m.cfg.InactivityTimeout/10, time.Second), 30*time.Second)
}

func (m *Manager) sweepLoop(ctx context.Context) error {
	t, tick := m.clock.NewTicker(m.sweepPeriod())
	defer t.Stop()
	for {
		if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// Sweep applies the timeouts in force (SessionTimeouts) once: inactive
// after the inactivity timeout, ended (idle) after the idle timeout when
// set, ended (expired) at the session's expiry.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	now := m.clock.Now()
	// The stored last-seen lags real activity by up to one interval plus a
	// flush (and a Redis move): a session is only judged idle once that lag
	// is allowed for, so one in use is never ended.
	lag := m.cfg.LastSeenInterval + m.flushPeriod()
	t := m.timeouts(ctx)
	sw := StaleSweep{Now: now, InactiveBefore: now.Add(-time.Duration(t.InactivityTimeout.Value) - lag)}
	if idle := time.Duration(t.IdleTimeout.Value); idle > 0 {
		sw.IdleBefore = now.Add(-idle - lag - 15*time.Second)
	}
	sw.Limit = SweepBatch
	total := 0
	for {
		start := m.clock.Now()
		n, ended, err := m.store.SweepStale(ctx, sw)
		if err != nil {
			return total, err
		}
		// Each batch committed: its ends are announced before the next.
		for _, e := range ended {
			m.afterEnd(ctx, e.SessionID, e.UserID, e.Reason, now)
			m.audit(ctx, &Event{Type: EventSessionEnded, ActorType: ActorSystem, UserID: e.UserID, SessionID: e.SessionID, Data: jsonObject("reason", e.Reason)}, nil)
			if m.cfg.Metrics != nil {
				m.cfg.Metrics.SessionEnded(e.Reason)
			}
		}
		total += n + len(ended)
		if !sw.Full(n, ended) {
			return total, nil
		}
		if !m.batchPause(ctx, start) {
			return total, ctx.Err()
		}
	}
}

// SweepBatch is how many sessions one sweep transaction changes per step
// (idle ends, expiry ends, inactive marks). A backlog (a million sessions
// going stale together, or the first sweep after downtime) used to be one
// transaction: it held counter rows that sign-ins write for the whole
// update, and sign-ins waited up to 24 s behind it at 10 M sessions
// (docs/SCALE.md). Batches and the pause between them, as in the purge,
// keep every wait to one batch.
const SweepBatch = 1000

// PurgeBatch is how many ended sessions one purge transaction deletes.
const PurgeBatch = 1000

// purgeEnded deletes every session ended before cutoff, PurgeBatch at a
// time, each batch its own short transaction, until a batch deletes none:
// a short batch does not mean none is left, as a store may skip the rows
// another instance's purge (or any transaction) holds. Between batches it
// waits as long as the batch took (at most a second): the purge uses at
// most about half of the store's time, so sign-ins beside it never queue
// behind a long delete (docs/SCALE.md has the figures). It returns how
// many it deleted, also when it stops on an error or ctx.
func (m *Manager) purgeEnded(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		start := m.clock.Now()
		n, err := m.store.PurgeEnded(ctx, cutoff, PurgeBatch)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
		if !m.batchPause(ctx, start) {
			return total, ctx.Err()
		}
	}
}

// batchPause waits after a batch of a bulk job (the sweep, the purge) as
// long as the batch took, at most a second, so the job holds the store at
// most about half the time and requests beside it never queue behind
// more than one batch. It reports false when ctx ended first.
func (m *Manager) batchPause(ctx context.Context, start time.Time) bool {
	pause := min(m.clock.Since(start), time.Second)
	return pause <= 0 || sleep(ctx, m.clock, pause)
}

// DefaultPurgeHour is the UTC hour of the nightly purge.
const DefaultPurgeHour = 3

func (m *Manager) purgeLoop(ctx context.Context) error {
	t, tick := m.clock.NewTicker(10 * time.Minute)
	defer t.Stop()
	hour := DefaultPurgeHour
	if m.cfg.PurgeHour != nil {
		hour = *m.cfg.PurgeHour
	}
	var lastDay string
	for {
		now := m.clock.Now()
		if day := now.Format(time.DateOnly); now.Hour() >= hour && day != lastDay {
			if _, err := m.Purge(ctx); err != nil {
				m.log.Error("nightly purge failed", "err", err)
			} else {
				lastDay = day
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// Purge deletes sessions (and dashboard sign-ins) that ended more than
// Retention ago.
func (m *Manager) Purge(ctx context.Context) (int, error) {
	cutoff := m.clock.Now().Add(-time.Duration(m.timeouts(ctx).Retention.Value))
	start := m.clock.Now()
	n, err := m.purgeEnded(ctx, cutoff)
	if n > 0 {
		m.log.Info("purged ended sessions", "count", n, "took", m.clock.Since(start).Round(time.Millisecond))
	}
	if st, ok := m.store.(AdminSessionStore); ok && err == nil {
		if an, aerr := st.PurgeAdminSessions(ctx, cutoff); aerr != nil {
			err = aerr
		} else if an > 0 {
			m.log.Info("purged ended dashboard sign-ins", "count", an)
		}
	}
	// Challenges live minutes; their history is in the audit log.
	if cs, ok := m.store.(ChallengeStore); ok && err == nil {
		if cn, cerr := cs.PurgeChallenges(ctx, m.clock.Now().Add(-24*time.Hour)); cerr != nil {
			err = cerr
		} else if cn > 0 {
			m.log.Info("purged expired challenges", "count", cn)
		}
	}
	return n, err
}
