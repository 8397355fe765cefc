package sessionmanager

import (
	"testing"
	"time"
)

// TestAdminCacheEndIsFinal: a store read of a dashboard session that raced
// its end (put after markEnded) cannot bring it back, and a live entry is
// read again after the TTL (the bound on a lost bus message).
func TestAdminCacheEndIsFinal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newAdminCache(2*time.Second, 8*time.Hour)
	s := &AdminSession{ID: "as1", AdminID: "a", Hash: []byte("h1"), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	c.put(s, now)
	c.markEnded("as1", now)
	if got := c.put(s, now); !got.Ended() {
		t.Fatal("a racing store read brought an ended session back")
	}
	if got, ok := c.get([]byte("h1"), now.Add(time.Hour)); !ok || !got.Ended() {
		t.Fatalf("ended entry: %+v %v", got, ok)
	}
	live := &AdminSession{ID: "as2", AdminID: "a", Hash: []byte("h2"), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	c.put(live, now)
	if _, ok := c.get([]byte("h2"), now.Add(time.Second)); !ok {
		t.Fatal("a fresh entry missed")
	}
	if _, ok := c.get([]byte("h2"), now.Add(3*time.Second)); ok {
		t.Fatal("a live entry outlived the cache TTL")
	}
	// Ends are forgotten only after a session's whole lifetime.
	c.markEnded("as3", now.Add(8*time.Hour+time.Minute))
	if _, ok := c.ended["as1"]; ok {
		t.Fatal("an end older than the session lifetime was kept")
	}
}
