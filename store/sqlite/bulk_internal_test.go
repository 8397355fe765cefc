package sqlite

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager"
)

// TestBulkLoadAllOrNothing: a bulk load that fails after some of its
// transactions committed (here a duplicate id in its third transaction of
// users, or of sessions) leaves no row behind, and the counters and search
// tables as they were; the same data loads afterwards.
func TestBulkLoadAllOrNothing(t *testing.T) {
	defer func(n int) { bulkTxRows = n }(bulkTxRows)
	bulkTxRows = 50 // rows per transaction: the failures below come after two commits
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	user := func(i int) *sessionmanager.User {
		return &sessionmanager.User{ID: fmt.Sprint("u", i), Email: fmt.Sprint("u", i, "@example.com"), Username: fmt.Sprint("u", i), CreatedAt: t0, UpdatedAt: t0}
	}
	session := func(i int) *sessionmanager.Session {
		return &sessionmanager.Session{ID: fmt.Sprint("s", i), UserID: fmt.Sprint("u", i%120), Status: sessionmanager.StatusActive,
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.AddDate(0, 0, 30),
			Device: sessionmanager.Device{Type: "desktop", Browser: "Firefox"}, Location: sessionmanager.Location{CountryCode: "DE", City: "Berlin"}}
	}
	users := func(bad int) iter.Seq[*sessionmanager.User] { return rowsOf(120, bad, 3, user) }
	sessions := func(bad int) iter.Seq[*sessionmanager.Session] { return rowsOf(130, bad, 5, session) }
	for _, c := range []struct {
		name             string
		badUser, badSess int
	}{{"a user fails", 110, -1}, {"a session fails", -1, 110}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(t.TempDir(), "sm.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.BulkLoad(ctx, users(c.badUser), sessions(c.badSess)); err == nil {
				t.Fatal("a load with a duplicate id succeeded")
			}
			for _, q := range []string{
				`SELECT count(*) FROM users`, `SELECT count(*) FROM sessions`,
				`SELECT count(*) FROM user_search_ids`, `SELECT count(*) FROM session_search_ids`,
				`SELECT coalesce(sum(live), 0) FROM session_live`,
			} {
				var n int
				if err := s.read.QueryRowContext(ctx, q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%s = %d after the failed load, want 0", q, n)
				}
			}
			st, err := s.Stats(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			if st.TotalUsers != 0 || len(st.ByDevice) != 0 {
				t.Errorf("stats after the failed load: %d users, by device %v", st.TotalUsers, st.ByDevice)
			}
			if err := s.BulkLoad(ctx, users(-1), sessions(-1)); err != nil {
				t.Fatalf("loading the data after the failed load: %v", err)
			}
			if st, err = s.Stats(ctx, t0); err != nil || st.TotalUsers != 120 {
				t.Fatalf("stats after the load: %d users, %v", st.TotalUsers, err)
			}
		})
	}
}

// rowsOf yields row(i) for i < n, but row(dup) in place of row bad (when
// not -1): a repeated id.
func rowsOf[T any](n, bad, dup int, row func(int) T) iter.Seq[T] {
	rows := make([]T, n)
	for i := range rows {
		rows[i] = row(i)
	}
	if bad >= 0 {
		rows[bad] = row(dup)
	}
	return slices.Values(rows)
}
