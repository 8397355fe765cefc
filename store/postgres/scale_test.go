package postgres_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestScale loads SM_SCALE_N sessions (default 1,000,000) and logs how long
// the dashboard's queries take. Run it on purpose:
//
//	SM_SCALE=1 go test -run TestScale -v -timeout 30m ./store/postgres/
func TestScale(t *testing.T) {
	if os.Getenv("SM_SCALE") != "1" {
		t.Skip("set SM_SCALE=1 to run the scale test")
	}
	n := 1_000_000
	if v := os.Getenv("SM_SCALE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("SM_SCALE_N=%q is not a positive number", v)
		}
	}
	s := openStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	start := time.Now()
	seedSessions(t, s, n, now)
	t.Logf("loaded %d sessions in %v", n, time.Since(start))

	timed := func(name string, fn func() error) {
		t.Helper()
		// The first run warms caches and prepared statements; the second is logged.
		for run := range 2 {
			start := time.Now()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if run == 1 {
				t.Logf("%-34s %v", name, time.Since(start))
			}
		}
	}
	page := func(f sm.SessionFilter) func() error {
		return func() error { _, err := s.ListSessions(ctx, f); return err }
	}
	timed("first page (created_at desc)", page(sm.SessionFilter{Desc: true}))
	timed("first page (last_seen desc)", page(sm.SessionFilter{Sort: sm.SortLastSeen, Desc: true}))
	timed("first page (score asc)", page(sm.SessionFilter{Sort: sm.SortScore}))
	timed("live sessions, DE, desc", page(sm.SessionFilter{Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Country: "de", Desc: true}))
	timed("one user's sessions", page(sm.SessionFilter{UserID: "user-0000042"}))
	timed("ip prefix 10.0.0.0/8", page(sm.SessionFilter{IPPrefix: mustPrefix("10.0.0.0/8")}))
	timed("search (ILIKE scan)", page(sm.SessionFilter{Search: "user4242@"}))
	timed("stats", func() error { _, err := s.Stats(ctx, now); return err })
	compareStats(t, s, "after COPY", now)

	start = time.Now()
	f := sm.SessionFilter{Limit: 500, Desc: true}
	seen, pages := 0, 0
	for {
		p, err := s.ListSessions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Sessions)
		pages++
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	if seen != n {
		t.Fatalf("walk saw %d sessions, want %d", seen, n)
	}
	t.Logf("full walk: %d pages of 500 in %v (%v per page)", pages, time.Since(start), time.Since(start)/time.Duration(pages))
}
