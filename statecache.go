package sessionmanager

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// sessionState is what the hot path needs to know about a session.
type sessionState struct {
	userID    string
	email     string
	status    Status
	reason    EndReason
	expiresAt time.Time
	// fetched is when the state was read from the store; a state older than
	// the cache TTL is read again, which bounds the cost of a lost bus message.
	fetched time.Time
	// fp is the fingerprint (address and user agent, protect.go) of the
	// client the session was last judged from; 0 = not known.
	fp uint64
}

const stateShards = 64

// stateCache maps session ids to their state, sharded to keep lock
// contention low on the hot path. It holds every session active on this
// instance, so an entry is kept small (docs/PERFORMANCE.md, "300 bytes a
// session"): a pointer in the map (a Go map's slots are a third empty on
// average, so the slot is kept to 24 bytes, its key sharing the verified
// token's memory) to a 64-byte entry, with the last-seen bookkeeping in the
// same entry rather than in a map of its own. The entry keeps the user id as
// a keyed hash: the caller knows the id (the token's subject) and gets its
// own string back when the hash matches.
type stateCache struct {
	seed maphash.Seed
	ttl  time.Duration
	// base is the origin of the entries' clock readings (fetched, noted):
	// durations since base keep the monotonic clock when there is one.
	base   time.Time
	shards [stateShards]stateShard
}

type stateShard struct {
	mu sync.RWMutex
	m  map[string]*stateEntry
}

// stateEntry is a sessionState as stored. Its fields change under the
// shard's write lock, except noted (atomic, under the read lock).
type stateEntry struct {
	email      string
	uid        uint64 // userHash of the user id; 0: not known
	expiresSec int64  // expiresAt as Unix seconds and nanoseconds: exact
	fetched    int64  // nanoseconds since the cache's base
	fp         uint64 // sessionState.fp
	// noted is when the last last-seen note of the session was queued for
	// the store (nanoseconds since base), or noNote.
	noted       atomic.Int64
	expiresNsec int32
	status      uint8
	reason      uint8
}

// noNote is the noted value of a session whose activity was never queued.
const noNote = math.MinInt64

func newStateCache(ttl time.Duration) *stateCache {
	c := &stateCache{seed: maphash.MakeSeed(), ttl: ttl, base: time.Now()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*stateEntry)
	}
	return c
}

func (c *stateCache) shard(sid string) *stateShard {
	return &c.shards[maphash.String(c.seed, sid)%stateShards]
}

// userHash is an entry's uid for userID ("" is 0: not known). The ids are
// the server's own (a session's user, a signed token's subject), so a
// collision of 64-bit keyed hashes is the only way a wrong one could match.
func (c *stateCache) userHash(userID string) uint64 {
	if userID == "" {
		return 0
	}
	return maphash.String(c.seed, userID) | 1 // never 0
}

// since is t on the entries' clock.
func (c *stateCache) since(t time.Time) int64 { return int64(t.Sub(c.base)) }

// get returns the cached state when it is fresh enough at now. Ended states
// never go stale: an ended session cannot come back. sub is the user the
// caller expects (the token's subject): the state's userID is sub when the
// session is that user's, "" when not or not known.
func (c *stateCache) get(sid, sub string, now time.Time) (sessionState, bool) {
	sh := c.shard(sid)
	sh.mu.RLock()
	e, ok := sh.m[sid]
	var st sessionState
	var fetched int64
	var uid uint64
	if ok {
		st = sessionState{email: e.email, status: statusOf(e.status), reason: reasonOf(e.reason),
			expiresAt: time.Unix(e.expiresSec, int64(e.expiresNsec)), fp: e.fp}
		fetched, uid = e.fetched, e.uid
	}
	sh.mu.RUnlock()
	if ok && uid != 0 && uid == c.userHash(sub) {
		st.userID = sub
	}
	if !ok {
		return st, false
	}
	st.fetched = c.base.Add(time.Duration(fetched))
	if st.status != StatusEnded && c.since(now)-fetched > int64(c.ttl) {
		return st, false
	}
	return st, true
}

// put caches a state read from the store, unless the session is already
// known ended: a read that raced a force logout must not bring it back.
// The entry is updated in place: its last-seen bookkeeping stays.
func (c *stateCache) put(sid string, st sessionState) {
	sh := c.shard(sid)
	sh.mu.Lock()
	e, ok := sh.m[sid]
	switch {
	case !ok:
		e = &stateEntry{}
		e.noted.Store(noNote)
		sh.m[sid] = e
	case statusOf(e.status) == StatusEnded:
		sh.mu.Unlock()
		return
	}
	e.uid, e.email, e.status, e.reason = c.userHash(st.userID), st.email, statusCode(st.status), reasonCode(st.reason)
	e.expiresSec, e.expiresNsec = st.expiresAt.Unix(), int32(st.expiresAt.Nanosecond())
	e.fetched, e.fp = c.since(st.fetched), st.fp
	sh.mu.Unlock()
}

// setFingerprint records the client a cached session was last judged
// from; a session not cached is left alone (its next read takes the
// store's record).
func (c *stateCache) setFingerprint(sid string, fp uint64) {
	sh := c.shard(sid)
	sh.mu.Lock()
	if e, ok := sh.m[sid]; ok {
		e.fp = fp
	}
	sh.mu.Unlock()
}

// markEnded records that a session ended, whether or not it was cached.
func (c *stateCache) markEnded(sid, userID string, reason EndReason, now time.Time) {
	sh := c.shard(sid)
	sh.mu.Lock()
	e, ok := sh.m[sid]
	if !ok {
		e = &stateEntry{expiresSec: time.Time{}.Unix()}
		e.noted.Store(noNote)
		sh.m[sid] = e
	}
	e.status, e.reason, e.fetched = statusCode(StatusEnded), reasonCode(reason), c.since(now)
	if userID != "" {
		e.uid = c.userHash(userID)
	}
	sh.mu.Unlock()
}

// noteDue reports whether a last-seen note of sid at now is due (none
// queued within interval) and, if so, records it as queued. A session not
// cached is always due: the caller queues the note.
func (c *stateCache) noteDue(sid string, now time.Time, interval time.Duration) bool {
	sh := c.shard(sid)
	t := c.since(now)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.m[sid]
	if !ok {
		return true
	}
	for {
		last := e.noted.Load()
		if last != noNote && t-last < int64(interval) {
			return false
		}
		if e.noted.CompareAndSwap(last, t) {
			return true
		}
	}
}

// drop forgets a session's state so the next request reads the store.
func (c *stateCache) drop(sid string) {
	sh := c.shard(sid)
	sh.mu.Lock()
	delete(sh.m, sid)
	sh.mu.Unlock()
}

// dropAll forgets everything (after a bus reconnect, messages may be lost).
func (c *stateCache) dropAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = make(map[string]*stateEntry) // clear would keep the table's memory
		sh.mu.Unlock()
	}
}

// prune removes entries not refreshed since before; ended entries are kept
// for as long as their access tokens could live (until before-TTL window).
// The entries it keeps that are stale at now let go of their email: a stale
// state is never answered (get reports it missing and the caller reads the
// store, which brings the email again), so an idle session does not hold
// its user's email until its token expires (docs/PERFORMANCE.md, "300
// bytes a session").
func (c *stateCache) prune(before, now time.Time) int {
	n := 0
	b, stale := c.since(before), c.since(now)-int64(c.ttl)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			switch {
			case e.fetched < b:
				delete(sh.m, k)
				n++
			case e.fetched < stale:
				e.email = ""
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// Statuses and end reasons are kept as one byte each: codes index these
// tables. A reason not in the table (from a newer instance on the bus) is
// added, up to 255 of them.
var (
	statuses    = [...]Status{"", StatusActive, StatusInactive, StatusEnded}
	reasonsMu   sync.Mutex
	reasonTable atomic.Pointer[[]EndReason]
)

func init() {
	t := []EndReason{"", EndLogout, EndManual, EndIdle, EndExpired, EndBlocked, EndRefreshReuse, EndPasswordChanged,
		EndEvicted, EndErased, EndReported, EndHijackSuspected, EndTOTPChanged, EndFactorChanged}
	reasonTable.Store(&t)
}

func statusCode(s Status) uint8 {
	for i, v := range statuses {
		if v == s {
			return uint8(i)
		}
	}
	return 0
}

func statusOf(code uint8) Status { return statuses[code] }

func reasonOf(code uint8) EndReason { return (*reasonTable.Load())[code] }

func reasonCode(r EndReason) uint8 {
	if i, ok := findReason(*reasonTable.Load(), r); ok {
		return i
	}
	reasonsMu.Lock()
	defer reasonsMu.Unlock()
	t := *reasonTable.Load()
	if i, ok := findReason(t, r); ok {
		return i
	}
	if len(t) > math.MaxUint8 {
		return 2 // EndManual: past 255 distinct reasons, which no version has
	}
	next := append(t[:len(t):len(t)], r)
	reasonTable.Store(&next)
	return uint8(len(next) - 1)
}

func findReason(t []EndReason, r EndReason) (uint8, bool) {
	for i, v := range t {
		if v == r {
			return uint8(i), true
		}
	}
	return 0, false
}

// lastNoted is when the session's last last-seen note was queued on this
// instance (zero when none): its activity here, to within one interval.
func (c *stateCache) lastNoted(sid string) time.Time {
	sh := c.shard(sid)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.m[sid]
	if !ok {
		return time.Time{}
	}
	if n := e.noted.Load(); n != noNote {
		return c.base.Add(time.Duration(n))
	}
	return time.Time{}
}
