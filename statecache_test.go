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
	st, ok := c.get("s1", now.Add(time.Hour)) // ended states never go stale
	if !ok || st.status != StatusEnded || st.reason != EndManual {
		t.Fatalf("state after a racing put: %+v %v", st, ok)
	}
	// A live state does go stale after the TTL (bounded cost of a lost message).
	c.put("s2", sessionState{userID: "u", status: StatusActive, expiresAt: now.Add(time.Hour), fetched: now})
	if _, ok := c.get("s2", now.Add(3*time.Second)); ok {
		t.Fatal("a live state outlived the cache TTL")
	}
}
