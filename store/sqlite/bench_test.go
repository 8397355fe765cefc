package sqlite_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
)

var benchT0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// seedSessions creates one user and n sessions with varied attributes.
func seedSessions(b *testing.B, s *sqlite.Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	if err := s.CreateUser(ctx, &sessionmanager.User{ID: "u-1", Email: "alice@example.com", Username: "alice", CreatedAt: benchT0}); err != nil {
		b.Fatal(err)
	}
	countries := []string{"US", "DE", "FR", "JP", "BR"}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("sess-%06d", i)
		sess := &sessionmanager.Session{
			ID: ids[i], UserID: "u-1", Status: sessionmanager.StatusActive, AuthMethod: sessionmanager.AuthPassword,
			CreatedAt: benchT0.Add(time.Duration(i) * time.Second), LastSeenAt: benchT0.Add(time.Duration(i) * time.Second),
			ExpiresAt: benchT0.Add(720 * time.Hour), IP: netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}),
			UserAgent: "Mozilla/5.0", Device: sessionmanager.Device{Type: "desktop", Browser: "Chrome", OS: "Windows"},
			Location: sessionmanager.Location{CountryCode: countries[i%len(countries)], City: "City"},
			Score:    i % 101,
		}
		if err := s.CreateSession(ctx, sess, []byte(ids[i])); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

func BenchmarkTouchSessions(b *testing.B) {
	benchBatches(b, func(id string, at time.Time) sessionmanager.LastSeen {
		return sessionmanager.LastSeen{SessionID: id, At: at}
	},
		func(s *sqlite.Store) func(context.Context, []sessionmanager.LastSeen) error { return s.TouchSessions })
}

// benchBatches seeds 1,000 sessions in a new store and applies batches of
// 100 notes to them in turn, each round a second later.
func benchBatches[N any](b *testing.B, note func(id string, at time.Time) N, apply func(*sqlite.Store) func(context.Context, []N) error) {
	s := openTemp(b)
	ids := seedSessions(b, s, 1000)
	ctx := context.Background()
	notes := make([]N, 100)
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		at := benchT0.Add(time.Duration(round) * time.Second)
		for j := range notes {
			notes[j] = note(ids[(round*100+j)%len(ids)], at)
		}
		if err := apply(s)(ctx, notes); err != nil {
			b.Fatal(err)
		}
		round++
	}
}

func BenchmarkListSessions(b *testing.B) {
	s := openTemp(b)
	seedSessions(b, s, 10000)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		f    sessionmanager.SessionFilter
	}{
		{"newest", sessionmanager.SessionFilter{Desc: true}},
		{"country-by-last-seen", sessionmanager.SessionFilter{Country: "DE", Sort: sessionmanager.SortLastSeen, Desc: true}},
		{"search", sessionmanager.SessionFilter{Search: "203.0.3"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				page, err := s.ListSessions(ctx, c.f)
				if err != nil || len(page.Sessions) == 0 {
					b.Fatal(err, len(page.Sessions))
				}
			}
		})
	}
}

// BenchmarkAppendTrail applies batches of 100 trail notes to 1,000
// sessions, the shape of BenchmarkTouchSessions: after a few rounds every
// trail is full, so each note also trims one entry.
func BenchmarkAppendTrail(b *testing.B) {
	benchBatches(b, func(id string, at time.Time) sessionmanager.TrailNote {
		return sessionmanager.TrailNote{SessionID: id, Entry: sessionmanager.TrailEntry{At: at,
			IP: netip.MustParseAddr("198.51.100.23"), CountryCode: "DE", City: "Falkenstein", ASN: 24940, ISP: "Hetzner Online GmbH",
			Latitude: 50.4779, Longitude: 12.3713, Device: "Chrome/Windows", Signals: []string{"session_ip_change"}}}
	}, func(s *sqlite.Store) func(context.Context, []sessionmanager.TrailNote) error { return s.AppendTrail })
}
