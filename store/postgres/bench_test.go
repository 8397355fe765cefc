package postgres_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// BenchmarkTouchSessions applies batches of 100 last-seen notes to a table
// of 10,000 sessions.
func BenchmarkTouchSessions(b *testing.B) {
	s := openStore(b)
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedSessions(b, s, 10_000, now)
	ctx := context.Background()
	notes := make([]sm.LastSeen, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range notes {
			notes[j] = sm.LastSeen{SessionID: fmt.Sprintf("ses-%08d", (i*100+j)%10_000), At: now.Add(time.Duration(i) * time.Second)}
		}
		if err := s.TouchSessions(ctx, notes); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkListSessions reads a page of 50 from 10,000 sessions, default
// order, newest first.
func BenchmarkListSessions(b *testing.B) {
	s := openStore(b)
	seedSessions(b, s, 10_000, time.Now().UTC())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.ListSessions(ctx, sm.SessionFilter{Desc: true})
		if err != nil || len(p.Sessions) != 50 {
			b.Fatalf("%d sessions, %v", len(p.Sessions), err)
		}
	}
}

// BenchmarkCreateSession inserts one live session per op (the login write,
// with the counter triggers), on top of 10,000 sessions.
func BenchmarkCreateSession(b *testing.B) {
	s := openStore(b)
	now := time.Now().UTC().Truncate(time.Microsecond)
	users := seedSessions(b, s, 10_000, now)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("bench-%08d", i)
		ses := &sm.Session{ID: id, UserID: users[i%len(users)], Status: sm.StatusActive, AuthMethod: sm.AuthPassword,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
			Device: sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"}, Location: sm.Location{CountryCode: "DE"}}
		if err := s.CreateSession(ctx, ses, []byte(id)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
