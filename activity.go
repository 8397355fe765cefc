package sessionmanager

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// activity notes last-seen in memory on the request path and hands the
// store at most one note per session per interval, in batches, off the
// request path.
type activity struct {
	seed     maphash.Seed
	interval time.Duration
	shards   [stateShards]activityShard
}

type activityShard struct {
	mu sync.Mutex
	// queued is when each session's last note was queued for the store.
	queued map[string]time.Time
	// pending holds the notes not yet written.
	pending map[string]time.Time
}

func newActivity(interval time.Duration) *activity {
	a := &activity{seed: maphash.MakeSeed(), interval: interval}
	for i := range a.shards {
		a.shards[i].queued = make(map[string]time.Time)
		a.shards[i].pending = make(map[string]time.Time)
	}
	return a
}

// note records activity at now; it queues a store write only when the
// session's last queued note is at least one interval old.
func (a *activity) note(sid string, now time.Time) {
	sh := &a.shards[maphash.String(a.seed, sid)%stateShards]
	sh.mu.Lock()
	last, ok := sh.queued[sid]
	if !ok || now.Sub(last) >= a.interval {
		sh.queued[sid] = now
		sh.pending[sid] = now
	}
	sh.mu.Unlock()
}

// lastQueued is when the session's last note was queued on this instance
// (zero when none): its activity, to within one interval.
func (a *activity) lastQueued(sid string) time.Time {
	sh := &a.shards[maphash.String(a.seed, sid)%stateShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.queued[sid]
}

// forget drops a session (it ended): no more writes for it.
func (a *activity) forget(sid string) {
	sh := &a.shards[maphash.String(a.seed, sid)%stateShards]
	sh.mu.Lock()
	delete(sh.queued, sid)
	delete(sh.pending, sid)
	sh.mu.Unlock()
}

// take removes and returns every pending note, and forgets sessions whose
// last note is older than staleBefore (bounded memory).
func (a *activity) take(staleBefore time.Time) []LastSeen {
	var out []LastSeen
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for sid, at := range sh.pending {
			out = append(out, LastSeen{SessionID: sid, At: at})
		}
		clear(sh.pending)
		for sid, at := range sh.queued {
			if at.Before(staleBefore) {
				delete(sh.queued, sid)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// requeue puts notes back after a failed write, keeping newer ones.
func (a *activity) requeue(notes []LastSeen) {
	for _, n := range notes {
		sh := &a.shards[maphash.String(a.seed, n.SessionID)%stateShards]
		sh.mu.Lock()
		if cur, ok := sh.pending[n.SessionID]; !ok || cur.Before(n.At) {
			sh.pending[n.SessionID] = n.At
		}
		sh.mu.Unlock()
	}
}

// flush writes pending notes through sink in batches of 500.
func (a *activity) flush(ctx context.Context, sink ActivitySink, staleBefore time.Time) (int, error) {
	notes := a.take(staleBefore)
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
