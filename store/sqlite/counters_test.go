package sqlite

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The counters that Stats reads (session_live, session_days, user_counts)
// and the search indexes stay equal to a full scan through every kind of write: inserts, ends,
// touches that reactivate, sweeps, purges, deletes, erasure and blocking,
// at several instants.
func TestStatsCountersMatchFullScan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "sm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 9))
	now := time.Date(2026, 3, 10, 13, 17, 5, 123456000, time.UTC)
	var users []string
	for _, n := range []string{"ann", "bob", "cyd"} {
		if err := s.CreateUser(ctx, &sm.User{ID: "u-" + n, Email: n + "@example.com", Username: n, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		users = append(users, "u-"+n)
	}
	devices := []sm.Device{{Type: "desktop", Browser: "Firefox", OS: "Linux"}, {Type: "mobile", Browser: "Safari", OS: "iOS"}, {}}
	countries := []string{"DE", "FR", "", "US"}
	var ids []string
	for i := range 300 {
		at := now.Add(-40*24*time.Hour + time.Duration(rng.Int64N(int64(41*24*time.Hour/time.Microsecond)))*time.Microsecond)
		id := fmt.Sprintf("r%03d", i)
		ids = append(ids, id)
		ses := &sm.Session{ID: id, UserID: users[i%3], Status: sm.StatusActive, AuthMethod: sm.AuthPassword,
			CreatedAt: at, LastSeenAt: at.Add(time.Duration(rng.IntN(7200)) * time.Second),
			ExpiresAt: at.Add(time.Duration(rng.IntN(40)) * 24 * time.Hour), IP: netip.MustParseAddr("203.0.113.7"),
			Device: devices[i%len(devices)], Location: sm.Location{CountryCode: countries[i%len(countries)], City: "C"},
			RefreshFamily: "f-" + id}
		if rng.IntN(4) == 0 {
			ses.Status = sm.StatusInactive
		}
		if err := s.CreateSession(ctx, ses, []byte("rt-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string) {
		t.Helper()
		compareCounters(t, s, step)
		for _, at := range []time.Time{now, now.Add(-3 * 24 * time.Hour), now.Truncate(24 * time.Hour), now.Add(17 * time.Hour)} {
			compareStats(t, s, step, at)
		}
	}
	check("inserted")
	for _, id := range ids[:40] {
		if _, err := s.EndSession(ctx, id, sm.EndLogout, now.Add(-time.Duration(rng.IntN(1000))*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	check("ended")
	if _, err := s.EndUserSessions(ctx, users[1], sm.EndBlocked, now, ids[1]); err != nil {
		t.Fatal(err)
	}
	check("ended user")
	var notes []sm.LastSeen
	for _, id := range ids {
		notes = append(notes, sm.LastSeen{SessionID: id, At: now.Add(-time.Duration(rng.IntN(600)) * time.Minute)})
	}
	if err := s.TouchSessions(ctx, notes); err != nil {
		t.Fatal(err)
	}
	check("touched")
	if _, _, err := s.SweepStale(ctx, sm.StaleSweep{Now: now, InactiveBefore: now.Add(-time.Hour), IdleBefore: now.Add(-5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	check("swept")
	if _, err := s.PurgeEnded(ctx, now.Add(-2*time.Hour), 1_000_000); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[250:260] {
		_ = s.DeleteSession(ctx, id) // some are purged already
	}
	check("purged and deleted")
	if err := s.EraseUser(ctx, users[2], now); err != nil {
		t.Fatal(err)
	}
	check("erased")
	for i, blocked := range []bool{true, true, false} {
		if _, err := s.UpdateUser(ctx, users[i], sm.UserUpdate{Blocked: &blocked, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	check("blocked")
}

// compareCounters checks every key of session_live against a full scan,
// and that the search indexes hold exactly one current row per session and
// per user.
func compareCounters(t *testing.T, s *Store, step string) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM session_search), (SELECT count(*) FROM session_search_ids),
			(SELECT count(*) FROM sessions s JOIN session_search_ids m ON m.id = s.id JOIN session_search f ON f.rowid = m.n
			 WHERE f.text = s.ip || char(31) || s.browser || char(31) || s.os || char(31) || s.city || char(31) || ` + ispColumn + `)`,
		`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM user_search), (SELECT count(*) FROM user_search_ids),
			(SELECT count(*) FROM users u JOIN user_search_ids m ON m.id = u.id JOIN user_search f ON f.rowid = m.n
			 WHERE f.text = u.email_key || char(31) || u.username_key)`,
	} {
		var rows, fts, ids, current int
		if err := s.read.QueryRowContext(ctx, q).Scan(&rows, &fts, &ids, &current); err != nil {
			t.Fatal(err)
		}
		if fts != rows || ids != rows || current != rows {
			t.Errorf("%s: %d rows, search index %d, ids %d, current %d", step, rows, fts, ids, current)
		}
	}
	read := func(sql string, args ...any) map[string][2]int64 {
		t.Helper()
		rows, err := s.read.QueryContext(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string][2]int64{}
		for rows.Next() {
			var k string
			var n, online int64
			if err := rows.Scan(&k, &n, &online); err != nil {
				t.Fatal(err)
			}
			m[k] = [2]int64{n, online}
		}
		return m
	}
	for dim, col := range []string{"country_code", "device_type", "browser", "os"} {
		scan := read(`SELECT ` + col + `, count(*), sum(status = 'active') FROM sessions WHERE status <> 'ended' GROUP BY 1`)
		counters := read(`SELECT key, live, online FROM session_live WHERE dim = ? AND (live <> 0 OR online <> 0)`, dim)
		if !maps.Equal(scan, counters) {
			t.Errorf("%s: %s counters %v, full scan %v", step, col, counters, scan)
		}
	}
}

// compareStats checks Stats at now against its definitions computed by a
// full scan of sessions and users.
func compareStats(t *testing.T, s *Store, step string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	midnight := now.Truncate(24 * time.Hour)
	var want sm.Stats
	err = s.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM sessions WHERE status = 'active'),
		(SELECT count(*) FROM sessions WHERE status <> 'ended' AND last_seen_at >= ?),
		(SELECT count(*) FROM sessions WHERE status <> 'ended' AND last_seen_at >= ?),
		(SELECT count(*) FROM users), (SELECT count(*) FROM users WHERE blocked <> 0),
		(SELECT count(*) FROM sessions WHERE created_at >= ?),
		(SELECT count(*) FROM sessions WHERE created_at >= ?),
		(SELECT count(*) FROM sessions WHERE created_at >= ?),
		(SELECT coalesce(avg((coalesce(ended_at, last_seen_at) - created_at) / 1e6), 0) FROM sessions WHERE created_at >= ?)`,
		now.Add(-15*time.Minute).UnixMicro(), now.Add(-30*time.Minute).UnixMicro(), midnight.UnixMicro(),
		now.Add(-24*time.Hour).UnixMicro(), now.Add(-7*24*time.Hour).UnixMicro(), now.Add(-30*24*time.Hour).UnixMicro(),
	).Scan(&want.OnlineNow, &want.Active15m, &want.Active30m, &want.TotalUsers, &want.BlockedUsers,
		&want.LoginsToday, &want.Logins24h, &want.Logins7d, &want.AvgSessionSeconds)
	if err != nil {
		t.Fatal(err)
	}
	got := *st
	got.ByCountry, got.ByDevice, got.ByBrowser, got.ByOS, got.LoginsPerDay, got.Challenges24h = nil, nil, nil, nil, nil, nil
	if math.Abs(got.AvgSessionSeconds-want.AvgSessionSeconds) < 1e-6*math.Max(1, want.AvgSessionSeconds) {
		got.AvgSessionSeconds = want.AvgSessionSeconds
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s at %v: stats\n %+v\nfull scan\n %+v", step, now, got, want)
	}
	for i, col := range []string{"country_code", "device_type", "browser", "os"} {
		want, err := queryAll(ctx, s.read, "scan", func(row rowScanner) (sm.Count, error) {
			var c sm.Count
			return c, row.Scan(&c.Key, &c.Count)
		}, `SELECT `+col+`, count(*) AS n FROM sessions WHERE status <> 'ended' GROUP BY 1 ORDER BY n DESC, 1 LIMIT 20`)
		if err != nil {
			t.Fatal(err)
		}
		if got := [][]sm.Count{st.ByCountry, st.ByDevice, st.ByBrowser, st.ByOS}[i]; !slices.Equal(got, append([]sm.Count{}, want...)) {
			t.Errorf("%s: by %s %v, full scan %v", step, col, got, want)
		}
	}
	first := midnight.Add(-13 * 24 * time.Hour)
	for i, c := range st.LoginsPerDay {
		d := first.Add(time.Duration(i) * 24 * time.Hour)
		var n int64
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE created_at >= ? AND created_at < ?`,
			d.UnixMicro(), d.Add(24*time.Hour).UnixMicro()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if c.Key != d.Format(time.DateOnly) || c.Count != n {
			t.Errorf("%s at %v: day %d is %+v, full scan %s %d", step, now, i, c, d.Format(time.DateOnly), n)
		}
	}
}
