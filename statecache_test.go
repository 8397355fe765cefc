package sessionmanager

import (
	"testing"
	"time"
)

// TestStateCacheEndIsFinal: a store read that raced a force logout (put of
// an active state after markEnded) cannot bring the session back.
func TestStateCacheEndIsFinal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newStateCache(2 * time.Second)
	c.put("s1", sessionState{userID: "u", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now})
	c.markEnded("s1", "u", EndManual, now)
	c.put("s1", sessionState{userID: "u", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now})
	st, ok := c.get("s1", "u", now.Add(time.Hour)) // ended states never go stale
	if !ok || st.status != StatusEnded || st.reason != EndManual || st.userID != "u" {
		t.Fatalf("state after a racing put: %+v %v", st, ok)
	}
	// A live state does go stale after the TTL (bounded cost of a lost message).
	c.put("s2", sessionState{userID: "u", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now})
	if _, ok := c.get("s2", "u", now.Add(3*time.Second)); ok {
		t.Fatal("a live state outlived the cache TTL")
	}
}

// TestStateCachePruneReleasesStaleEmails: the minute's prune lets a stale
// entry's email go (an idle session must not hold it until its token
// expires) and keeps the rest of the entry: the fingerprint this instance
// judged and the last-seen bookkeeping. A fresh entry keeps its email, and
// an entry past the token's life goes.
func TestStateCachePruneReleasesStaleEmails(t *testing.T) {
	now := time.Now()
	c := newStateCache(2 * time.Second)
	c.put("fresh", sessionState{userID: "u", email: "fresh@example.com", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now.Add(-time.Second)})
	c.put("idle", sessionState{userID: "u", email: "idle@example.com", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now.Add(-time.Minute), fp: 42})
	c.put("old", sessionState{userID: "u", email: "old@example.com", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now.Add(-2 * time.Hour)})
	if !c.noteDue("idle", now.Add(-time.Minute), time.Minute) {
		t.Fatal("first note not due")
	}
	if n := c.prune(now.Add(-time.Hour), now); n != 1 {
		t.Fatalf("prune dropped %d entries, want 1 (old)", n)
	}
	if st, ok := c.get("fresh", "u", now); !ok || st.email != "fresh@example.com" {
		t.Fatalf("fresh entry after prune: %+v %v", st, ok)
	}
	st, ok := c.get("idle", "u", now)
	if ok || st.email != "" || st.fp != 42 || st.userID != "u" {
		t.Fatalf("idle entry after prune: %+v ok=%v; want stale, no email, fingerprint kept", st, ok)
	}
	if c.lastNoted("idle").IsZero() {
		t.Fatal("prune lost the idle entry's last note")
	}
	if _, ok := c.get("old", "u", now); ok || c.lastNoted("old") != (time.Time{}) {
		t.Fatal("an entry older than the token's life was kept")
	}
}

// TestStateCacheAnswersOnlyItsUser: the entry keeps a hash of the session's
// user, and get gives the caller's subject back only when it is that user:
// a token naming another user's session gets no user (and is refused by
// authenticate as an invalid token).
func TestStateCacheAnswersOnlyItsUser(t *testing.T) {
	now := time.Now()
	c := newStateCache(2 * time.Second)
	c.put("s1", sessionState{userID: "ann", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now})
	if st, ok := c.get("s1", "ann", now); !ok || st.userID != "ann" {
		t.Fatalf("own user: %+v %v", st, ok)
	}
	for _, sub := range []string{"bob", "", "ann "} {
		if st, ok := c.get("s1", sub, now); !ok || st.userID != "" {
			t.Fatalf("subject %q: %+v %v, want the state without a user", sub, st, ok)
		}
	}
	c.markEnded("s2", "", EndManual, now) // ended elsewhere, user not known
	if st, ok := c.get("s2", "ann", now); !ok || st.userID != "" || st.status != StatusEnded {
		t.Fatalf("ended, user not known: %+v %v", st, ok)
	}
}
