package storetest

import (
	"fmt"
	"math"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var statsTests = []namedTest{
	{"KnownDataset", testStats},
	{"Empty", testStatsEmpty},
	{"WindowBoundaries", testStatsWindowBoundaries},
}

// statsFixture is one session of the stats dataset, its times relative
// to now (negative durations are in the past).
type statsFixture struct {
	id, user                   string
	created, lastSeen, endedAt time.Duration // endedAt 0: not ended
	status                     sessionmanager.Status
	country, device, browser   string
	os                         string
}

func testStats(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0 // 2026-03-10 12:00 UTC
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	u3 := newUser(t, s, "u-3", "carol@example.com", "carol")
	blocked := true
	_, err := s.UpdateUser(ctx, u3.ID, sessionmanager.UserUpdate{Blocked: &blocked})
	noErr(t, err)

	const h, d = time.Hour, 24 * time.Hour
	active, inactive, ended := sessionmanager.StatusActive, sessionmanager.StatusInactive, sessionmanager.StatusEnded
	for _, f := range []statsFixture{
		{"s1", "u-1", -10 * time.Minute, -5 * time.Minute, 0, active, "US", "desktop", "Chrome", "Windows"},
		{"s2", "u-1", -2 * h, -20 * time.Minute, 0, active, "US", "mobile", "Safari", "iOS"},
		{"s3", "u-2", -23 * h, -40 * time.Minute, 0, inactive, "DE", "desktop", "Chrome", "Windows"},
		{"s4", "u-2", -3 * d, -3*d + h, -3*d + h, ended, "FR", "desktop", "Chrome", "macOS"},
		{"s5", "u-2", -10 * d, -10 * time.Minute, 0, active, "US", "desktop", "Chrome", "Windows"},
		{"s6", "u-3", -20 * d, -20*d + 2*h, -20*d + 2*h, ended, "JP", "mobile", "Safari", "iOS"},
		{"s7", "u-3", -40 * d, -40*d + h, -40*d + h, ended, "JP", "desktop", "Edge", "Windows"},
		{"s8", "u-1", -3 * h, -3 * h, 0, inactive, "", "", "", ""},
		{"s9", "u-3", -5 * d, -2 * h, 0, inactive, "DE", "mobile", "Safari", "iOS"},
		{"s10", "u-1", -h, -3 * time.Minute, -3 * time.Minute, ended, "US", "desktop", "Chrome", "Windows"},
	} {
		newSession(t, s, f.id, f.user, func(x *sessionmanager.Session) {
			x.CreatedAt, x.LastSeenAt, x.ExpiresAt = now.Add(f.created), now.Add(f.lastSeen), now.Add(30*d)
			x.Status = f.status
			if f.status == ended {
				x.EndReason, x.EndedAt = sessionmanager.EndLogout, now.Add(f.endedAt)
			}
			x.Location = sessionmanager.Location{CountryCode: f.country}
			x.Device = sessionmanager.Device{Type: f.device, Browser: f.browser, OS: f.os}
		})
	}

	st, err := s.Stats(ctx, now)
	noErr(t, err)
	for name, c := range map[string]struct{ want, got int64 }{
		"OnlineNow (status active)":          {3, st.OnlineNow},
		"Active15m (not ended, seen in 15m)": {2, st.Active15m},
		"Active30m":                          {3, st.Active30m},
		"TotalUsers":                         {3, st.TotalUsers},
		"BlockedUsers":                       {1, st.BlockedUsers},
		"LoginsToday (since UTC midnight)":   {4, st.LoginsToday},
		"Logins24h":                          {5, st.Logins24h},
		"Logins7d (any status)":              {7, st.Logins7d},
	} {
		equal(t, c.want, c.got, name)
	}
	online, err := s.OnlineNow(ctx)
	noErr(t, err)
	equal(t, st.OnlineNow, online, "OnlineNow alone (the metrics gauge) = Stats' OnlineNow")
	equal(t, []sessionmanager.Count{{Key: "US", Count: 3}, {Key: "DE", Count: 2}, {Key: "", Count: 1}}, st.ByCountry, "ByCountry (live sessions)")
	equal(t, []sessionmanager.Count{{Key: "desktop", Count: 3}, {Key: "mobile", Count: 2}, {Key: "", Count: 1}}, st.ByDevice, "ByDevice")
	equal(t, []sessionmanager.Count{{Key: "Chrome", Count: 3}, {Key: "Safari", Count: 2}, {Key: "", Count: 1}}, st.ByBrowser, "ByBrowser")
	equal(t, []sessionmanager.Count{{Key: "Windows", Count: 3}, {Key: "iOS", Count: 2}, {Key: "", Count: 1}}, st.ByOS, "ByOS")

	// Sessions created in 30 days (s7 is older), ended_at or last_seen minus created_at:
	// s1 300, s2 6000, s3 80400, s4 3600, s5 863400, s6 7200, s8 0, s9 424800, s10 3420.
	wantAvg := (300.0 + 6000 + 80400 + 3600 + 863400 + 7200 + 0 + 424800 + 3420) / 9
	check(t, math.Abs(st.AvgSessionSeconds-wantAvg) < 1e-6, "AvgSessionSeconds = %v, want %v", st.AvgSessionSeconds, wantAvg)

	want := map[string]int64{"2026-03-10": 4, "2026-03-09": 1, "2026-03-07": 1, "2026-03-05": 1, "2026-02-28": 1}
	equal(t, 14, len(st.LoginsPerDay), "14 days")
	for i, c := range st.LoginsPerDay {
		day := now.AddDate(0, 0, i-13).Format(time.DateOnly)
		equal(t, sessionmanager.Count{Key: day, Count: want[day]}, c, "LoginsPerDay[%d]", i)
	}
}

func testStatsEmpty(t *testing.T, s Store) {
	st, err := s.Stats(t.Context(), t0)
	noErr(t, err)
	online, err := s.OnlineNow(t.Context())
	noErr(t, err)
	equal(t, int64(0), online, "OnlineNow alone")
	check(t, st.OnlineNow == 0 && st.TotalUsers == 0 && st.Logins7d == 0 && st.AvgSessionSeconds == 0, "zeros: %+v", st)
	check(t, len(st.ByCountry) == 0 && len(st.ByDevice) == 0, "no buckets")
	equal(t, 14, len(st.LoginsPerDay), "14 days, zeros included")
	equal(t, "2026-02-25", st.LoginsPerDay[0].Key, "oldest first")
	equal(t, "2026-03-10", st.LoginsPerDay[13].Key, "ending today")
}

// windowSession is a session of the window-boundaries test as the test
// expects the store to hold it.
type windowSession struct {
	created, lastSeen time.Time
	live              bool
}

// testStatsWindowBoundaries checks the presence counts (Active15m,
// Active30m) and the sliding login windows (Logins24h, Logins7d, the
// 30-day average) around their minute, hour and day boundaries, through
// touches that move sessions between minutes, ends, a purge and a delete,
// at instants on and between those boundaries: a store may count whole
// minutes and hours from counters, but the answers are those of the
// definitions (last seen at or after now-15m, created at or after
// now-24h, ...), computed here from the sessions it was given.
func testStatsWindowBoundaries(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	now := t0.Add(30*time.Second + 500*time.Microsecond) // 12:00:30.0005
	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	us := time.Microsecond
	held := map[string]*windowSession{}
	add := func(id string, created, lastSeen time.Time) {
		held[id] = &windowSession{created: created, lastSeen: lastSeen, live: true}
		newSession(t, s, id, "u-1", func(x *sessionmanager.Session) {
			x.CreatedAt, x.LastSeenAt, x.ExpiresAt = created, lastSeen, t0.Add(60*d)
		})
	}
	// Last seen around now-15m and now-30m: just before, at, and after the
	// instant, at the start of its minute, at the next whole minute.
	for i, at := range []time.Time{
		now.Add(-15*m - us), now.Add(-15 * m), now.Add(-15*m + us), now.Add(-15 * m).Truncate(m), now.Add(-14 * m).Truncate(m),
		now.Add(-30*m - us), now.Add(-30 * m), now.Add(-30 * m).Truncate(m), now.Add(-29 * m).Truncate(m), now.Add(-29*m - us),
		now.Add(-2 * h), now, now.Add(-31 * m),
		// 11:45:09.0005 and 11:30:03.0005: inside a ten-second tick, 9 s and
		// 3 s into it (PostgreSQL counts presence per tick, migration 0026).
		now.Add(-15*m - 21*time.Second), now.Add(-30*m - 27*time.Second),
	} {
		add(fmt.Sprintf("p%02d", i), at.Add(-time.Hour), at)
	}
	// Created around now-24h, now-7d and now-30d: the same instants, the
	// hour and the day that hold them, and the next hour and day.
	i := 0
	for _, back := range []time.Duration{d, 7 * d, 30 * d} {
		from := now.Add(-back)
		for _, at := range []time.Time{
			from.Add(-us), from, from.Add(us), from.Truncate(h), from.Truncate(h).Add(h), from.Truncate(h).Add(h - us),
			from.Truncate(d), from.Truncate(d).Add(d), from.Truncate(d).Add(d - us),
		} {
			add(fmt.Sprintf("w%02d", i), at, at.Add(time.Duration(i)*m))
			i++
		}
	}
	want := func(at time.Time) (a15, a30, l24, l7, n30 int64, secs float64) {
		for _, x := range held {
			if x.live && !x.lastSeen.Before(at.Add(-15*m)) {
				a15++
			}
			if x.live && !x.lastSeen.Before(at.Add(-30*m)) {
				a30++
			}
			if !x.created.Before(at.Add(-d)) {
				l24++
			}
			if !x.created.Before(at.Add(-7 * d)) {
				l7++
			}
			if !x.created.Before(at.Add(-30 * d)) {
				n30++
				secs += x.lastSeen.Sub(x.created).Seconds()
			}
		}
		return a15, a30, l24, l7, n30, secs
	}
	check := func(step string) {
		t.Helper()
		// now-20s puts the windows' starts 10 s into their minutes, among
		// sessions seen before and after them in the same minute; now-23s
		// and now-28s put them 7 s and 2 s into a ten-second tick, among
		// sessions seen before and after them in the same tick (both sides
		// of the tick: the late and the early path of PostgreSQL's
		// presence).
		for _, at := range []time.Time{now, now.Truncate(m), now.Truncate(h), now.Add(m), now.Add(59*time.Second + 999*us),
			now.Add(-20 * time.Second), now.Add(-23 * time.Second), now.Add(-28 * time.Second), now.Add(-29 * time.Second),
			now.Add(45 * m), now.Add(h - 30*time.Second), now.Truncate(d)} {
			st, err := s.Stats(ctx, at)
			noErr(t, err, "%s: stats at %v", step, at)
			a15, a30, l24, l7, n30, secs := want(at)
			equal(t, a15, st.Active15m, "%s at %v: Active15m", step, at)
			equal(t, a30, st.Active30m, "%s at %v: Active30m", step, at)
			equal(t, l24, st.Logins24h, "%s at %v: Logins24h", step, at)
			equal(t, l7, st.Logins7d, "%s at %v: Logins7d", step, at)
			avg := 0.0
			if n30 > 0 {
				avg = secs / float64(n30)
			}
			check(t, math.Abs(st.AvgSessionSeconds-avg) < 1e-6*math.Max(1, avg),
				"%s at %v: AvgSessionSeconds = %v, want %v", step, at, st.AvgSessionSeconds, avg)
		}
	}
	check("created")

	// Touches move sessions into later minutes (into the windows, within
	// one, within the same minute); one note is older than the session's
	// last sight and changes nothing.
	touch := map[string]time.Time{
		"p00": now.Add(-15 * m), "p05": now.Add(-20*m + 7*time.Second), "p10": now.Add(-30*m + us),
		"p02": now.Add(-15*m + 2*us), "p12": now.Add(-40 * m), "w03": now.Add(-m),
	}
	var notes []sessionmanager.LastSeen
	for id, at := range touch {
		notes = append(notes, sessionmanager.LastSeen{SessionID: id, At: at})
		if x := held[id]; at.After(x.lastSeen) {
			x.lastSeen = at
		}
	}
	noErr(t, s.TouchSessions(ctx, notes), "touch")
	check("touched")

	// Ending takes a session out of the presence counts (its length is
	// then up to its end); purging and deleting take it out of everything.
	for id, at := range map[string]time.Time{"p01": now.Add(-10 * m), "p08": now.Add(-5 * m), "w22": now.Add(-29 * d)} {
		_, err := s.EndSession(ctx, id, sessionmanager.EndLogout, at)
		noErr(t, err, "end %s", id)
		held[id].live, held[id].lastSeen = false, at
	}
	check("ended")
	n, err := s.PurgeEnded(ctx, now.Add(-d), 100)
	noErr(t, err, "purge")
	equal(t, 1, n, "purged (w22, ended 29 days ago)")
	delete(held, "w22")
	noErr(t, s.DeleteSession(ctx, "p04"), "delete p04")
	noErr(t, s.DeleteSession(ctx, "w10"), "delete w10")
	delete(held, "p04")
	delete(held, "w10")
	check("purged and deleted")
}
