package storetest

import (
	"math"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var statsTests = []namedTest{
	{"KnownDataset", testStats},
	{"Empty", testStatsEmpty},
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
