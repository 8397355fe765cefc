package postgres_test

import (
	"context"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// scaleRuns is how many timed runs each query gets after one warm-up run;
// the median is logged.
const scaleRuns = 5

// scaleN is SM_SCALE_N (default 1,000,000); it skips the test unless
// SM_SCALE=1.
func scaleN(t *testing.T) int {
	t.Helper()
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
	return n
}

// scaleTable times queries (median of scaleRuns after a warm-up) and logs
// them as one table.
type scaleTable struct {
	t    *testing.T
	rows []string
}

// time runs fn 1+scaleRuns times and records the median of the timed runs.
func (st *scaleTable) time(name string, fn func() error) time.Duration {
	st.t.Helper()
	var ds []time.Duration
	for run := range scaleRuns + 1 {
		start := time.Now()
		if err := fn(); err != nil {
			st.t.Fatalf("%s: %v", name, err)
		}
		if run > 0 {
			ds = append(ds, time.Since(start))
		}
	}
	slices.Sort(ds)
	med := ds[len(ds)/2]
	st.rows = append(st.rows, "| "+name+" | "+strconv.FormatFloat(float64(med.Microseconds())/1000, 'f', 2, 64)+" |")
	return med
}

// log writes the table.
func (st *scaleTable) log(title string) {
	st.t.Logf("%s (median of %d runs, ms)\n| query | ms |\n|---|---|\n%s", title, scaleRuns, strings.Join(st.rows, "\n"))
}

// scaleStore opens the store of the scale test with n sessions loaded. With
// SM_SCALE_SCHEMA set it uses (and keeps) that schema, loading it only when
// it is empty, so that a change of the store's SQL (a new migration
// included) can be measured again without a reload; the data's "now" is
// then the newest login. Otherwise the schema is fresh and dropped.
func scaleStore(t *testing.T, n int) (*postgres.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	var s *postgres.Store
	if schema := os.Getenv("SM_SCALE_SCHEMA"); schema != "" {
		conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		_ = conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		start := time.Now()
		if s, err = postgres.Open(ctx, u.String()); err != nil {
			t.Fatal(err)
		}
		t.Logf("opened (migrations included) in %v", time.Since(start))
		t.Cleanup(func() { _ = s.Close() })
		var have int
		var newest *time.Time
		if err := s.Pool().QueryRow(ctx, `SELECT count(*), max(last_seen) FROM sessions`).Scan(&have, &newest); err != nil {
			t.Fatal(err)
		}
		if have > 0 {
			if have != n {
				t.Fatalf("schema %s holds %d sessions, not %d", schema, have, n)
			}
			// seedSessions caps last_seen at its now: reuse that instant.
			return s, newest.UTC()
		}
	} else {
		s = openStore(t)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	start := time.Now()
	seedSessions(t, s, n, now)
	t.Logf("loaded %d sessions in %v", n, time.Since(start))
	return s, now
}

// TestScale loads SM_SCALE_N sessions (default 1,000,000) and logs how long
// the dashboard's queries take. Run it on purpose:
//
//	SM_SCALE=1 go test -run TestScale -v -timeout 30m ./store/postgres/
func TestScale(t *testing.T) {
	n := scaleN(t)
	s, now := scaleStore(t, n)
	ctx := context.Background()

	// A cursor deep in the list: the start of the second half.
	f := sm.SessionFilter{Limit: 500, Desc: true}
	seen, pages, deep := 0, 0, ""
	start := time.Now()
	for {
		p, err := s.ListSessions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Sessions)
		pages++
		if deep == "" && seen >= n/2 {
			deep = p.NextCursor
		}
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	if seen != n {
		t.Fatalf("walk saw %d sessions, want %d", seen, n)
	}
	t.Logf("full walk: %d pages of 500 in %v (%v per page)", pages, time.Since(start), time.Since(start)/time.Duration(pages))

	tab := &scaleTable{t: t}
	page := func(f sm.SessionFilter) func() error {
		return func() error { _, err := s.ListSessions(ctx, f); return err }
	}
	live := []sm.Status{sm.StatusActive, sm.StatusInactive}
	tab.time("first page (created_at desc)", page(sm.SessionFilter{Desc: true}))
	tab.time("first page (last_seen desc)", page(sm.SessionFilter{Sort: sm.SortLastSeen, Desc: true}))
	tab.time("first page (score asc)", page(sm.SessionFilter{Sort: sm.SortScore}))
	tab.time("live, country DE, created desc", page(sm.SessionFilter{Status: live, Country: "de", Desc: true}))
	tab.time("live, country DE, last_seen desc", page(sm.SessionFilter{Status: live, Country: "de", Sort: sm.SortLastSeen, Desc: true}))
	tab.time("one user's sessions", page(sm.SessionFilter{UserID: "user-0000042"}))
	tab.time("ip prefix 10.0.0.0/8", page(sm.SessionFilter{IPPrefix: mustPrefix("10.0.0.0/8")}))
	tab.time("deep cursor page (row n/2)", page(sm.SessionFilter{Desc: true, Cursor: deep}))
	tab.time("search email \"user4242@\"", page(sm.SessionFilter{Search: "user4242@", Desc: true}))
	tab.time("search rare \"zqxj\" (no match)", page(sm.SessionFilter{Search: "zqxj", Desc: true}))
	tab.time("search common \"firefox\"", page(sm.SessionFilter{Search: "firefox", Desc: true}))
	tab.time("search medium \"user42\"", page(sm.SessionFilter{Search: "user42", Desc: true}))
	tab.time("search all users \"example.com\"", page(sm.SessionFilter{Search: "example.com", Desc: true}))
	tab.time("search ip \"10.20.\"", page(sm.SessionFilter{Search: "10.20.", Desc: true}))
	tab.time("live DE + search \"user42\"", page(sm.SessionFilter{Status: live, Country: "DE", Search: "user42", Desc: true}))
	tab.time("stats", func() error { _, err := s.Stats(ctx, now); return err })
	tab.log("postgres, " + strconv.Itoa(n) + " sessions")
	compareStats(t, s, "after load", now, true)
	compareLive(t, s, "after load", now)
}
