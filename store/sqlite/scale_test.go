package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// scaleRuns is how many timed runs each query gets after one warm-up run;
// the median is logged.
const scaleRuns = 5

// TestScale loads SM_SCALE_N sessions (default 1,000,000) and logs how long
// the dashboard's queries take (median of 5 runs). Run it on purpose:
//
//	SM_SCALE=1 go test -run TestScale -v -timeout 60m ./store/sqlite/
//
// With SM_SCALE_SQLITE_PATH set the database file is kept there and loaded
// only when empty, so that a change of the store's SQL (a new migration
// included) can be measured again without a reload.
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
	path := os.Getenv("SM_SCALE_SQLITE_PATH")
	if path == "" {
		path = filepath.Join(t.TempDir(), "scale.db")
	}
	ctx := context.Background()
	start := time.Now()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("opened (migrations included) in %v", time.Since(start))
	var have int
	var newest *int64
	if err := s.read.QueryRowContext(ctx, `SELECT count(*), max(last_seen_at) FROM sessions`).Scan(&have, &newest); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	switch {
	case have == 0:
		start = time.Now()
		scaleSeed(t, s, n, now)
		t.Logf("loaded %d sessions in %v", n, time.Since(start))
	case have != n:
		t.Fatalf("%s holds %d sessions, not %d", path, have, n)
	default:
		now = time.UnixMicro(*newest).UTC() // the seed caps last_seen at its now
	}

	// A cursor deep in the list: the start of the second half.
	f := sm.SessionFilter{Limit: 500, Desc: true}
	seen, pages, deep := 0, 0, ""
	start = time.Now()
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

	var rows []string
	timed := func(name string, fn func() error) {
		t.Helper()
		var ds []time.Duration
		for run := range scaleRuns + 1 {
			start := time.Now()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if run > 0 {
				ds = append(ds, time.Since(start))
			}
		}
		slices.Sort(ds)
		rows = append(rows, fmt.Sprintf("| %s | %.2f |", name, float64(ds[len(ds)/2].Microseconds())/1000))
	}
	page := func(f sm.SessionFilter) func() error {
		return func() error { _, err := s.ListSessions(ctx, f); return err }
	}
	live := []sm.Status{sm.StatusActive, sm.StatusInactive}
	timed("first page (created_at desc)", page(sm.SessionFilter{Desc: true}))
	timed("first page (last_seen desc)", page(sm.SessionFilter{Sort: sm.SortLastSeen, Desc: true}))
	timed("first page (score asc)", page(sm.SessionFilter{Sort: sm.SortScore}))
	timed("live, created desc", page(sm.SessionFilter{Status: live, Desc: true}))
	timed("live, last_seen desc", page(sm.SessionFilter{Status: live, Sort: sm.SortLastSeen, Desc: true}))
	timed("country DE, last_seen desc", page(sm.SessionFilter{Country: "DE", Sort: sm.SortLastSeen, Desc: true}))
	timed("live, country DE, created desc", page(sm.SessionFilter{Status: live, Country: "de", Desc: true}))
	timed("one user's sessions", page(sm.SessionFilter{UserID: "user-0000042"}))
	timed("ip prefix 10.0.0.0/8", page(sm.SessionFilter{IPPrefix: netip.MustParsePrefix("10.0.0.0/8")}))
	timed("deep cursor page (row n/2)", page(sm.SessionFilter{Desc: true, Cursor: deep}))
	timed("search email \"user4242@\"", page(sm.SessionFilter{Search: "user4242@", Desc: true}))
	timed("search rare \"zqxj\" (no match)", page(sm.SessionFilter{Search: "zqxj", Desc: true}))
	timed("search common \"firefox\"", page(sm.SessionFilter{Search: "firefox", Desc: true}))
	timed("search medium \"user42\"", page(sm.SessionFilter{Search: "user42", Desc: true}))
	timed("search all users \"example.com\"", page(sm.SessionFilter{Search: "example.com", Desc: true}))
	timed("search ip \"10.20.\"", page(sm.SessionFilter{Search: "10.20.", Desc: true}))
	timed("live DE + search \"user42\"", page(sm.SessionFilter{Status: live, Country: "DE", Search: "user42", Desc: true}))
	timed("stats", func() error { _, err := s.Stats(ctx, now); return err })
	t.Logf("sqlite, %d sessions (median of %d runs, ms)\n| query | ms |\n|---|---|\n%s", n, scaleRuns, strings.Join(rows, "\n"))
	compareCounters(t, s, "after load")
	compareStats(t, s, "after load", now)
}

// scaleSeed bulk-loads n sessions of n/10+1 users in one transaction with
// prepared multi-row inserts, spread like the Postgres scale test's seed:
// logins over the 30 days before now, a fifth of them live.
func scaleSeed(t *testing.T, s *Store, n int, now time.Time) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const batch = 100
	insert := func(table string, cols []string, count int, row func(i int) []any) {
		t.Helper()
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES "+
			strings.TrimSuffix(strings.Repeat(one+", ", batch), ", "))
		if err != nil {
			t.Fatal(err)
		}
		defer stmt.Close()
		args := make([]any, 0, batch*len(cols))
		for i := range count {
			args = append(args, row(i)...)
			if len(args) == cap(args) {
				if _, err := stmt.ExecContext(ctx, args...); err != nil {
					t.Fatalf("insert %s: %v", table, err)
				}
				args = args[:0]
			}
		}
		for len(args) > 0 { // the rest, one row at a time
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES "+one,
				args[:len(cols)]...); err != nil {
				t.Fatalf("insert %s: %v", table, err)
			}
			args = args[len(cols):]
		}
	}
	users := n/10 + 1
	insert("users", []string{"id", "email", "email_key", "username", "username_key", "created_at", "updated_at", "blocked"}, users,
		func(i int) []any {
			at := now.Add(-time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))).UnixMicro()
			email, name := fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("user%d", i)
			return []any{fmt.Sprintf("user-%07d", i), email, email, name, name, at, at, i%50 == 0}
		})
	countries := []string{"DE", "US", "FR", "GB", "BR", "IN", "JP", "NL", "", "PL", "ES", "IT", "CA", "AU", "SE"}
	devices := []struct{ typ, browser, os string }{
		{"desktop", "Chrome", "Windows"}, {"desktop", "Firefox", "Linux"}, {"mobile", "Safari", "iOS"},
		{"mobile", "Chrome", "Android"}, {"tablet", "Safari", "iPadOS"}, {"desktop", "Edge", "Windows"},
	}
	insert("sessions", []string{"id", "user_id", "status", "end_reason", "auth_method", "created_at", "last_seen_at",
		"ended_at", "expires_at", "ip", "ip_bin", "user_agent", "device_type", "browser", "os", "country_code", "city",
		"location", "threat_vpn", "score"}, n, func(i int) []any {
		created := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Microsecond)
		lastSeen := created.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
		status, reason, ended := "ended", "logout", any(nil)
		switch r := rng.IntN(10); {
		case r < 1:
			status, reason, lastSeen = "active", "", now.Add(-time.Duration(rng.Int64N(int64(20*time.Minute))))
		case r < 2:
			status, reason = "inactive", ""
		}
		if lastSeen.After(now) {
			lastSeen = now
		}
		if status == "ended" {
			ended = lastSeen.UnixMicro()
		}
		ip := netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		bin := ip.As16()
		c := countries[rng.IntN(len(countries))]
		d := devices[rng.IntN(len(devices))]
		return []any{fmt.Sprintf("ses-%08d", i), fmt.Sprintf("user-%07d", rng.IntN(users)), status, reason, "password",
			created.UnixMicro(), lastSeen.UnixMicro(), ended, created.Add(30 * 24 * time.Hour).UnixMicro(), ip.String(), bin[:],
			"Mozilla/5.0", d.typ, d.browser, d.os, c, "City" + c, fmt.Sprintf(`{"countryCode":%q}`, c), rng.IntN(10) == 0, rng.IntN(101)}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
}
