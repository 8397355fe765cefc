package postgres_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// BenchmarkTouchSessions applies batches of 100 last-seen notes to a table
// of 10,000 sessions.
func BenchmarkTouchSessions(b *testing.B) {
	s := openStore(b)
	benchBatches(b, s, func(id string, at time.Time) sm.LastSeen { return sm.LastSeen{SessionID: id, At: at} }, s.TouchSessions)
}

// BenchmarkTouchLiveSessions is the last-seen flush of a busy instance:
// batches of 500 notes (the flush's batch), all of live sessions created
// over 30 days, each moving its session into a later tick (the
// counters' worst case: every note moves one session between
// session_ticks rows and changes its login hour's and day's summed
// length). Its time per operation is one flush statement.
func BenchmarkTouchLiveSessions(b *testing.B) {
	s := openStore(b)
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedSessions(b, s, 10_000, now)
	ctx := context.Background()
	rows, err := s.Pool().Query(ctx, `SELECT id FROM sessions WHERE status <> 'ended' ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(live) < 1_000 {
		b.Fatalf("%d live sessions: %v", len(live), err)
	}
	notes := make([]sm.LastSeen, 500)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range notes {
			notes[j] = sm.LastSeen{SessionID: live[(i*len(notes)+j)%len(live)], At: now.Add(time.Duration(i) * 61 * time.Second)}
		}
		if err := s.TouchSessions(ctx, notes); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchBatches seeds 10,000 sessions and applies batches of 100 notes to
// them in turn, each round a second later.
func benchBatches[N any](b *testing.B, s *postgres.Store, note func(id string, at time.Time) N, apply func(context.Context, []N) error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	seedSessions(b, s, 10_000, now)
	ctx := context.Background()
	notes := make([]N, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range notes {
			notes[j] = note(fmt.Sprintf("ses-%08d", (i*100+j)%10_000), now.Add(time.Duration(i)*time.Second))
		}
		if err := apply(ctx, notes); err != nil {
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

// BenchmarkAppendTrail applies batches of 100 trail notes to a table of
// 10,000 sessions, the shape of BenchmarkTouchSessions: after a few rounds
// every trail is full, so each note also trims one entry.
func BenchmarkAppendTrail(b *testing.B) {
	s := openStore(b)
	benchBatches(b, s, func(id string, at time.Time) sm.TrailNote {
		return sm.TrailNote{SessionID: id, Entry: benchTrailEntry(at)}
	}, s.AppendTrail)
}

// benchTrailEntry is a full trail entry (every field set) at at.
func benchTrailEntry(at time.Time) sm.TrailEntry {
	return sm.TrailEntry{At: at, IP: netip.MustParseAddr("198.51.100.23"), CountryCode: "DE", City: "Falkenstein", ASN: 24940,
		ISP: "Hetzner Online GmbH", Latitude: 50.4779, Longitude: 12.3713, Device: "Chrome/Windows", Signals: []string{"session_ip_change"}}
}
