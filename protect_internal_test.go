package sessionmanager

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkWatchEqual is what session protection adds to a request from
// the session's own client: a hash of the user agent and one compare with
// the cached fingerprint.
func BenchmarkWatchEqual(b *testing.B) {
	ua := "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	client := ClientInfo{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: ua}
	st := sessionState{fp: fingerprint(client.IP, ua)}
	m := &Manager{}
	ctx, now := context.Background(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.watch(ctx, "sid", &st, &client, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChallengePending: a challenge is pending until a proof after it.
func TestChallengePending(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &Session{AuthContext: AuthContext{AuthTime: t0}}
	if challengePending(s) {
		t.Fatal("no trail, no challenge")
	}
	s.Trail = []TrailEntry{{At: t0.Add(time.Minute), Action: ActionChallenge}, {At: t0.Add(2 * time.Minute)}}
	if !challengePending(s) {
		t.Fatal("a challenge after the last proof is pending")
	}
	s.AuthTime = t0.Add(3 * time.Minute) // stepped up
	if challengePending(s) {
		t.Fatal("a step-up after the challenge answers it")
	}
}
