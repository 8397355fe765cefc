package sessionmanager

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// activity holds the last-seen notes due for the store and hands them over
// in batches, off the request path. Whether a note is due (at most one per
// session per interval) is kept with the session's cached state
// (stateCache.noteDue), so an active session costs no entry here beyond
// the interval's pending note.
type activity struct {
	seed     maphash.Seed
	interval time.Duration
	shards   [stateShards]activityShard
}

type activityShard struct {
	mu sync.Mutex
	// pending holds the notes not yet written; it is replaced, not
	// cleared, when taken, so a burst does not keep its memory.
	pending map[string]time.Time
}

func newActivity(interval time.Duration) *activity {
	return &activity{seed: maphash.MakeSeed(), interval: interval}
}

// noteSeen records activity of session sid at now: a store write is queued
// when none was within the last interval.
func (m *Manager) noteSeen(sid string, now time.Time) {
	if m.states.noteDue(sid, now, m.seen.interval) {
		m.seen.queue(sid, now)
	}
}

// queue makes a note of sid at now pending.
func (a *activity) queue(sid string, now time.Time) {
	sh := &a.shards[maphash.String(a.seed, sid)%stateShards]
	sh.mu.Lock()
	if sh.pending == nil {
		sh.pending = make(map[string]time.Time)
	}
	sh.pending[sid] = now
	sh.mu.Unlock()
}

// forget drops a session (it ended): no more writes for it.
func (a *activity) forget(sid string) {
	sh := &a.shards[maphash.String(a.seed, sid)%stateShards]
	sh.mu.Lock()
	delete(sh.pending, sid)
	sh.mu.Unlock()
}

// take removes and returns every pending note.
func (a *activity) take() []LastSeen {
	var out []LastSeen
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for sid, at := range sh.pending {
			out = append(out, LastSeen{SessionID: sid, At: at})
		}
		sh.pending = nil
		sh.mu.Unlock()
	}
	return out
}

// requeue puts notes back after a failed write, keeping newer ones.
func (a *activity) requeue(notes []LastSeen) {
	for _, n := range notes {
		sh := &a.shards[maphash.String(a.seed, n.SessionID)%stateShards]
		sh.mu.Lock()
		if sh.pending == nil {
			sh.pending = make(map[string]time.Time)
		}
		if cur, ok := sh.pending[n.SessionID]; !ok || cur.Before(n.At) {
			sh.pending[n.SessionID] = n.At
		}
		sh.mu.Unlock()
	}
}

// flush writes pending notes through sink in batches of 500.
func (a *activity) flush(ctx context.Context, sink ActivitySink) (int, error) {
	notes := a.take()
	written := 0
	for len(notes) > 0 {
		n := min(len(notes), 500)
		if err := sink.WriteLastSeen(ctx, notes[:n]); err != nil {
			a.requeue(notes)
			return written, err
		}
		written += n
		notes = notes[n:]
	}
	return written, nil
}
