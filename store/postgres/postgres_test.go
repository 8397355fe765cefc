package postgres_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// TestConformance runs the shared store suite, each subtest on a fresh schema.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openStore(t) })
}

// openStore opens a store on a fresh schema, closed when the test ends.
func openStore(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testenv.PostgresSchema(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// t0 is the fixed "now" of the fixtures.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// mkUser creates a user with the name n.
func mkUser(t testing.TB, s *postgres.Store, n string) *sm.User {
	t.Helper()
	u := &sm.User{ID: "u-" + n, Email: n + "@example.com", Username: n, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user %s: %v", n, err)
	}
	return u
}

// mkSession creates an active session of user at the given login time.
func mkSession(t testing.TB, s *postgres.Store, id, userID string, at time.Time, edit func(*sm.Session)) *sm.Session {
	t.Helper()
	ses := &sm.Session{
		ID: id, UserID: userID, Status: sm.StatusActive, AuthMethod: sm.AuthPassword,
		CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(30 * 24 * time.Hour),
		IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "Mozilla/5.0",
		Device:   sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"},
		Location: sm.Location{CountryCode: "DE", City: "Berlin"},
		Score:    90, RefreshFamily: "fam-" + id,
	}
	if edit != nil {
		edit(ses)
	}
	if err := s.CreateSession(context.Background(), ses, []byte("rt-"+id)); err != nil {
		t.Fatalf("create session %s: %v", id, err)
	}
	return ses
}

// code is the error code of err, for compact assertions.
func code(err error) string { return sm.ErrorCode(err) }

// sessionIDs lists the ids of a page.
func sessionIDs(ss []*sm.Session) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

// walk lists every session matching f by following cursors.
func walk(t testing.TB, s *postgres.Store, f sm.SessionFilter) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("cursor walk does not end")
		}
		p, err := s.ListSessions(context.Background(), f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		ids = append(ids, sessionIDs(p.Sessions)...)
		if p.NextCursor == "" {
			return ids
		}
		f.Cursor = p.NextCursor
	}
}

func sid(i int) string { return fmt.Sprintf("s%03d", i) }
