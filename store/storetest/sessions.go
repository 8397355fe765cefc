package storetest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var sessionTests = []namedTest{
	{"RoundTripEveryField", testSessionRoundTrip},
	{"RefreshTokens", testRefreshTokens},
	{"EndSession", testEndSession},
	{"EndUserSessions", testEndUserSessions},
	{"EndDeviceSessions", testEndDeviceSessions},
	{"TouchSessions", testTouchSessions},
	{"SweepStale", testSweepStale},
	{"SweepStaleInBatches", testSweepStaleInBatches},
	{"PurgeEnded", testPurgeEnded},
	{"DeleteSession", testDeleteSession},
	{"LoginHistory", testLoginHistory},
}

// fullSession is a session with every field set to a non-zero value.
func fullSession(id, userID string, ip string) *sessionmanager.Session {
	return &sessionmanager.Session{
		ID: id, UserID: userID, Status: sessionmanager.StatusInactive, EndReason: "",
		AuthMethod: sessionmanager.AuthMagicLink,
		CreatedAt:  t0.Add(1234567 * time.Microsecond), LastSeenAt: t0.Add(time.Hour + 7*time.Microsecond),
		ExpiresAt: t0.Add(720 * time.Hour),
		IP:        netip.MustParseAddr(ip), UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15 'quoted\" ;--",
		DeviceID: "device-" + id + " 'quoted\" ;-- é",
		Device:   sessionmanager.Device{Type: "desktop", Browser: "Safari", BrowserVersion: "17.4", OS: "macOS", OSVersion: "14.4"},
		Location: sessionmanager.Location{CountryCode: "DE", CountryName: "Germany", Flag: "🇩🇪", Region: "Berlin",
			City: "Berlin", Latitude: 52.520008, Longitude: 13.404954, HasCoordinates: true, AccuracyKM: 20,
			TimeZone: "Europe/Berlin", ASN: 3320, ISP: "Deutsche Telekom AG"},
		Threat: sessionmanager.Threat{VPN: true, Proxy: true, Tor: true, Datacenter: true, KnownThreat: true},
		Score:  35,
		Reasons: []sessionmanager.RiskReason{
			{Code: sessionmanager.ReasonVPN, Weight: 20, Detail: "NordVPN exit"},
			{Code: sessionmanager.ReasonImpossibleTravel, Weight: 45, Detail: "Berlin -> Sydney, 16100 km in 2h"},
		},
		RefreshFamily:    "family-" + id,
		RefreshSealed:    []byte{0, 1, 2, 250, 255},
		RefreshRotatedAt: t0.Add(30 * time.Minute),
		DPoPJKT:          "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
	}
}

func testSessionRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser(t, s, "u-1", "alice@example.com", "alice")
	for _, c := range []struct{ id, ip string }{
		{"s-v4", "203.0.113.77"},
		{"s-v6", "2001:db8:85a3::8a2e:370:7334"},
	} {
		want := fullSession(c.id, u.ID, c.ip)
		noErr(t, s.CreateSession(ctx, want, hashOf(c.id)), "create %s", c.id)
		want.UserEmail, want.Username = u.Email, u.Username
		requireSameSession(t, want, getSession(t, s, c.id))

		page, err := s.ListSessions(ctx, sessionmanager.SessionFilter{IPPrefix: netip.PrefixFrom(want.IP, want.IP.BitLen())})
		noErr(t, err)
		check(t, len(page.Sessions) == 1, "list by ip %s: %d sessions", c.ip, len(page.Sessions))
		requireSameSession(t, want, page.Sessions[0])
	}

	// An ended session keeps its end fields; a session without IP reads back without one.
	ended := baseSession("s-ended", u.ID)
	ended.Status, ended.EndReason, ended.EndedAt = sessionmanager.StatusEnded, sessionmanager.EndManual, t0.Add(time.Minute)
	ended.IP, ended.Reasons, ended.RefreshSealed = netip.Addr{}, nil, nil
	noErr(t, s.CreateSession(ctx, ended, hashOf("s-ended")))
	ended.UserEmail, ended.Username = u.Email, u.Username
	requireSameSession(t, ended, getSession(t, s, "s-ended"))

	requireCode(t, s.CreateSession(ctx, fullSession("s-v4", u.ID, "192.0.2.1"), hashOf("other")), sessionmanager.ECONFLICT, "duplicate id")
	requireCode(t, second(s.SessionByID(ctx, "s-missing")), sessionmanager.ENOTFOUND, "missing session")
}

func testRefreshTokens(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	r0, r1, r2 := hashOf("s-1/r0"), hashOf("s-1/r1"), hashOf("s-1/r2")

	rt, err := s.RefreshTokenByHash(ctx, r0)
	noErr(t, err)
	equal(t, sessionmanager.RefreshToken{Hash: r0, SessionID: "s-1", CreatedAt: t0}, *rt, "first token is current")
	requireCode(t, second(s.RefreshTokenByHash(ctx, hashOf("unknown"))), sessionmanager.ENOTFOUND, "unknown hash")

	at := t0.Add(10 * time.Minute)
	noErr(t, s.RotateRefreshToken(ctx, sessionmanager.RotateRefresh{SessionID: "s-1", OldHash: r0, NewHash: r1, NewSealed: []byte("sealed-1"), At: at}))
	old, err := s.RefreshTokenByHash(ctx, r0)
	noErr(t, err)
	equal(t, sessionmanager.RefreshToken{Hash: r0, SessionID: "s-1", CreatedAt: t0, ReplacedAt: at}, *old, "replaced token")
	cur, err := s.RefreshTokenByHash(ctx, r1)
	noErr(t, err)
	equal(t, sessionmanager.RefreshToken{Hash: r1, SessionID: "s-1", CreatedAt: at}, *cur, "new current token")
	sess := getSession(t, s, "s-1")
	equal(t, []byte("sealed-1"), sess.RefreshSealed, "sealed copy follows the rotation")
	equal(t, at, sess.RefreshRotatedAt, "rotation time")

	requireCode(t, s.RotateRefreshToken(ctx, sessionmanager.RotateRefresh{SessionID: "s-1", OldHash: r0, NewHash: r2, At: at}),
		sessionmanager.ECONFLICT, "a replaced token cannot rotate again")
	requireCode(t, second(s.RefreshTokenByHash(ctx, r2)), sessionmanager.ENOTFOUND, "a losing rotation stores nothing")
	requireCode(t, s.RotateRefreshToken(ctx, sessionmanager.RotateRefresh{SessionID: "s-other", OldHash: r1, NewHash: r2, At: at}),
		sessionmanager.ECONFLICT, "a token of another session")

	_, err = s.EndSession(ctx, "s-1", sessionmanager.EndLogout, at.Add(time.Minute))
	noErr(t, err)
	requireCode(t, s.RotateRefreshToken(ctx, sessionmanager.RotateRefresh{SessionID: "s-1", OldHash: r1, NewHash: r2, At: at.Add(2 * time.Minute)}),
		sessionmanager.ECONFLICT, "an ended session's token")
	cur, err = s.RefreshTokenByHash(ctx, r1)
	noErr(t, err)
	check(t, cur.ReplacedAt.IsZero(), "a refused rotation leaves the token current")
}

func testEndSession(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	at := t0.Add(time.Hour)
	ended, err := s.EndSession(ctx, "s-1", sessionmanager.EndManual, at)
	noErr(t, err)
	check(t, ended, "first end reports ended")
	got := getSession(t, s, "s-1")
	equal(t, sessionmanager.StatusEnded, got.Status)
	equal(t, sessionmanager.EndManual, got.EndReason)
	equal(t, at, got.EndedAt)

	ended, err = s.EndSession(ctx, "s-1", sessionmanager.EndLogout, at.Add(time.Hour))
	noErr(t, err)
	check(t, !ended, "ending an ended session reports false")
	got = getSession(t, s, "s-1")
	check(t, got.EndReason == sessionmanager.EndManual && got.EndedAt.Equal(at), "the first end stays: %+v", got)

	_, err = s.EndSession(ctx, "s-missing", sessionmanager.EndManual, at)
	requireCode(t, err, sessionmanager.ENOTFOUND, "missing session")
}

func testEndUserSessions(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		newSession(t, s, id, "u-1")
	}
	newSession(t, s, "a-old", "u-1", func(x *sessionmanager.Session) {
		x.Status, x.EndReason, x.EndedAt = sessionmanager.StatusEnded, sessionmanager.EndLogout, t0.Add(time.Minute)
	})
	newSession(t, s, "b1", "u-2")
	at := t0.Add(time.Hour)
	ids, err := s.EndUserSessions(ctx, "u-1", sessionmanager.EndPasswordChanged, at, "a2")
	noErr(t, err)
	equal(t, []string{"a1", "a3", "a4"}, sorted(ids), "ended ids")
	for _, id := range []string{"a1", "a3", "a4"} {
		got := getSession(t, s, id)
		check(t, got.Status == sessionmanager.StatusEnded && got.EndReason == sessionmanager.EndPasswordChanged && got.EndedAt.Equal(at), "%s: %+v", id, got)
	}
	check(t, getSession(t, s, "a2").Status == sessionmanager.StatusActive, "the excepted session stays")
	check(t, getSession(t, s, "b1").Status == sessionmanager.StatusActive, "another user's session stays")
	check(t, getSession(t, s, "a-old").EndReason == sessionmanager.EndLogout, "an ended session keeps its reason")

	ids, err = s.EndUserSessions(ctx, "u-1", sessionmanager.EndBlocked, at, "")
	noErr(t, err)
	equal(t, []string{"a2"}, sorted(ids), "no exception ends the rest")
}

// testEndDeviceSessions: a logout of one device ends exactly the user's
// live sessions that carry its id: not the user's other devices, not
// another user's session with the same id, and never any for an empty id.
func testEndDeviceSessions(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	device := func(id string) sessionOpt { return func(x *sessionmanager.Session) { x.DeviceID = id } }
	newSession(t, s, "phone-1", "u-1", device("phone"))
	newSession(t, s, "phone-2", "u-1", device("phone"))
	newSession(t, s, "laptop", "u-1", device("laptop"))
	newSession(t, s, "none", "u-1")
	newSession(t, s, "phone-old", "u-1", device("phone"), func(x *sessionmanager.Session) {
		x.Status, x.EndReason, x.EndedAt = sessionmanager.StatusEnded, sessionmanager.EndManual, t0.Add(time.Minute)
	})
	newSession(t, s, "bob-phone", "u-2", device("phone"))
	equal(t, "phone", getSession(t, s, "phone-1").DeviceID, "device id read back")
	equal(t, "", getSession(t, s, "none").DeviceID, "no device id reads back empty")

	ids, err := s.EndDeviceSessions(ctx, "u-1", "", sessionmanager.EndLogout, t0.Add(time.Hour))
	noErr(t, err)
	equal(t, 0, len(ids), "an empty device id ends nothing")
	ids, err = s.EndDeviceSessions(ctx, "u-1", "PHONE", sessionmanager.EndLogout, t0.Add(time.Hour))
	noErr(t, err)
	equal(t, 0, len(ids), "device ids are compared exactly")

	at := t0.Add(time.Hour)
	ids, err = s.EndDeviceSessions(ctx, "u-1", "phone", sessionmanager.EndLogout, at)
	noErr(t, err)
	equal(t, []string{"phone-1", "phone-2"}, sorted(ids), "ended ids")
	for _, id := range []string{"phone-1", "phone-2"} {
		got := getSession(t, s, id)
		check(t, got.Status == sessionmanager.StatusEnded && got.EndReason == sessionmanager.EndLogout && got.EndedAt.Equal(at), "%s: %+v", id, got)
	}
	for _, id := range []string{"laptop", "none", "bob-phone"} {
		check(t, getSession(t, s, id).Status == sessionmanager.StatusActive, "%s stays", id)
	}
	check(t, getSession(t, s, "phone-old").EndReason == sessionmanager.EndManual, "an ended session keeps its reason")
	ids, err = s.EndDeviceSessions(ctx, "u-1", "phone", sessionmanager.EndLogout, at)
	noErr(t, err)
	equal(t, 0, len(ids), "a second logout of the device ends nothing")
}

func testTouchSessions(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "active", "u-1", func(x *sessionmanager.Session) { x.LastSeenAt = t0.Add(10 * time.Minute) })
	newSession(t, s, "inactive", "u-1", func(x *sessionmanager.Session) { x.Status = sessionmanager.StatusInactive })
	newSession(t, s, "ended", "u-1", func(x *sessionmanager.Session) {
		x.Status, x.EndReason, x.EndedAt = sessionmanager.StatusEnded, sessionmanager.EndLogout, t0.Add(time.Minute)
	})
	noErr(t, s.TouchSessions(ctx, []sessionmanager.LastSeen{
		{SessionID: "active", At: t0.Add(5 * time.Minute)}, // older: never lowers
		{SessionID: "inactive", At: t0.Add(20 * time.Minute)},
		{SessionID: "ended", At: t0.Add(20 * time.Minute)},
		{SessionID: "missing", At: t0.Add(20 * time.Minute)},
	}))
	got := getSession(t, s, "active")
	equal(t, t0.Add(10*time.Minute), got.LastSeenAt, "last seen is never lowered")
	got = getSession(t, s, "inactive")
	check(t, got.Status == sessionmanager.StatusActive && got.LastSeenAt.Equal(t0.Add(20*time.Minute)), "inactive becomes active: %+v", got)
	got = getSession(t, s, "ended")
	check(t, got.Status == sessionmanager.StatusEnded && got.LastSeenAt.Equal(t0), "ended unchanged: %+v", got)
	noErr(t, s.TouchSessions(ctx, nil), "empty batch")
}

func testSweepStale(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	now := t0.Add(48 * time.Hour)
	seen := func(ago time.Duration) sessionOpt {
		return func(x *sessionmanager.Session) { x.LastSeenAt = now.Add(-ago) }
	}
	newSession(t, s, "fresh", "u-1", seen(time.Minute))
	newSession(t, s, "stale", "u-1", seen(20*time.Minute))
	newSession(t, s, "already-inactive", "u-1", seen(30*time.Minute), func(x *sessionmanager.Session) { x.Status = sessionmanager.StatusInactive })
	newSession(t, s, "idle", "u-2", seen(3*time.Hour))
	newSession(t, s, "idle-inactive", "u-2", seen(5*time.Hour), func(x *sessionmanager.Session) { x.Status = sessionmanager.StatusInactive })
	newSession(t, s, "expired", "u-2", seen(time.Minute), func(x *sessionmanager.Session) { x.ExpiresAt = now })
	newSession(t, s, "ended-long-ago", "u-1", seen(40*time.Hour), func(x *sessionmanager.Session) {
		x.Status, x.EndReason, x.EndedAt, x.ExpiresAt = sessionmanager.StatusEnded, sessionmanager.EndLogout, t0, t0
	})

	inactivated, ended, err := s.SweepStale(ctx, sessionmanager.StaleSweep{
		Now: now, InactiveBefore: now.Add(-15 * time.Minute), IdleBefore: now.Add(-2 * time.Hour),
	})
	noErr(t, err)
	equal(t, 1, inactivated, "only 'stale' turns inactive (ended sessions do not count)")
	byID := map[string]sessionmanager.Ended{}
	for _, e := range ended {
		byID[e.SessionID] = e
	}
	equal(t, map[string]sessionmanager.Ended{
		"idle":          {SessionID: "idle", UserID: "u-2", Reason: sessionmanager.EndIdle},
		"idle-inactive": {SessionID: "idle-inactive", UserID: "u-2", Reason: sessionmanager.EndIdle},
		"expired":       {SessionID: "expired", UserID: "u-2", Reason: sessionmanager.EndExpired},
	}, byID, "ended sessions")
	check(t, len(ended) == 3, "each ended session once: %+v", ended)

	for id, want := range map[string]struct {
		status sessionmanager.Status
		reason sessionmanager.EndReason
	}{
		"fresh": {sessionmanager.StatusActive, ""}, "stale": {sessionmanager.StatusInactive, ""},
		"already-inactive": {sessionmanager.StatusInactive, ""}, "idle": {sessionmanager.StatusEnded, sessionmanager.EndIdle},
		"idle-inactive": {sessionmanager.StatusEnded, sessionmanager.EndIdle}, "expired": {sessionmanager.StatusEnded, sessionmanager.EndExpired},
		"ended-long-ago": {sessionmanager.StatusEnded, sessionmanager.EndLogout},
	} {
		got := getSession(t, s, id)
		check(t, got.Status == want.status && got.EndReason == want.reason, "%s: status %s reason %q", id, got.Status, got.EndReason)
		if want.reason == sessionmanager.EndIdle || want.reason == sessionmanager.EndExpired {
			equal(t, now, got.EndedAt, "%s ended at the sweep's now", id)
		}
	}

	// Without IdleBefore nothing ends for being idle; a second sweep is a no-op.
	newSession(t, s, "idle-2", "u-1", seen(10*time.Hour))
	inactivated, ended, err = s.SweepStale(ctx, sessionmanager.StaleSweep{Now: now, InactiveBefore: now.Add(-15 * time.Minute)})
	noErr(t, err)
	equal(t, 1, inactivated, "idle-2 turns inactive")
	check(t, len(ended) == 0, "nothing ends: %+v", ended)
	equal(t, sessionmanager.StatusInactive, getSession(t, s, "idle-2").Status)
}

// A bounded sweep takes at most Limit sessions per step and call, ends
// sessions before it would mark them inactive (the inactive step waits
// while an end step is full), and repeated until no step is full it
// reaches the state of one unbounded sweep.
func testSweepStaleInBatches(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	now := t0.Add(48 * time.Hour)
	seen := func(ago time.Duration) sessionOpt {
		return func(x *sessionmanager.Session) { x.LastSeenAt = now.Add(-ago) }
	}
	want := map[string]sessionmanager.Status{}
	for i := range 5 { // idle: also stale, ended (idle) and never marked inactive
		id := fmt.Sprintf("idle-%d", i)
		newSession(t, s, id, "u-1", seen(3*time.Hour))
		want[id] = sessionmanager.StatusEnded
	}
	for i := range 3 {
		id := fmt.Sprintf("expired-%d", i)
		newSession(t, s, id, "u-1", seen(time.Minute), func(x *sessionmanager.Session) { x.ExpiresAt = now.Add(-time.Minute) })
		want[id] = sessionmanager.StatusEnded
	}
	for i := range 4 {
		id := fmt.Sprintf("stale-%d", i)
		newSession(t, s, id, "u-1", seen(20*time.Minute))
		want[id] = sessionmanager.StatusInactive
	}
	newSession(t, s, "fresh", "u-1", seen(time.Minute))
	want["fresh"] = sessionmanager.StatusActive

	sw := sessionmanager.StaleSweep{Now: now, InactiveBefore: now.Add(-15 * time.Minute), IdleBefore: now.Add(-2 * time.Hour), Limit: 2}
	endedOnce := map[string]sessionmanager.EndReason{}
	inactivated, calls := 0, 0
	for {
		calls++
		check(t, calls <= 10, "the sweep does not converge")
		n, ended, err := s.SweepStale(ctx, sw)
		noErr(t, err)
		byReason := map[sessionmanager.EndReason]int{}
		for _, e := range ended {
			_, seen := endedOnce[e.SessionID]
			check(t, !seen, "%s ended twice", e.SessionID)
			endedOnce[e.SessionID] = e.Reason
			byReason[e.Reason]++
		}
		check(t, n <= 2 && byReason[sessionmanager.EndIdle] <= 2 && byReason[sessionmanager.EndExpired] <= 2,
			"call %d took more than the limit: %d inactive, %v ended", calls, n, byReason)
		inactivated += n
		if !sw.Full(n, ended) {
			break
		}
	}
	check(t, calls >= 3, "5 idle sessions at 2 a call take 3 calls, took %d", calls)
	equal(t, 4, inactivated, "only the stale sessions are marked inactive, the idle ones are ended first")
	equal(t, 8, len(endedOnce), "every idle and expired session ended once")
	for id, st := range want {
		got := getSession(t, s, id)
		equal(t, st, got.Status, "%s", id)
		if st == sessionmanager.StatusEnded {
			wantReason := sessionmanager.EndIdle
			if strings.HasPrefix(id, "expired") {
				wantReason = sessionmanager.EndExpired
			}
			equal(t, wantReason, got.EndReason, "%s", id)
			equal(t, wantReason, endedOnce[id], "%s reported", id)
		}
	}
}

func testPurgeEnded(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	endedAt := func(at time.Time) sessionOpt {
		return func(x *sessionmanager.Session) {
			x.Status, x.EndReason, x.EndedAt = sessionmanager.StatusEnded, sessionmanager.EndLogout, at
		}
	}
	cutoff := t0.Add(24 * time.Hour)
	// Five due, created in an order unlike their end times, so "oldest
	// first" is the end time's order, not the insertion's.
	due := []string{"old-3", "old-1", "old-5", "old-2", "old-4"}
	for _, id := range due {
		k := time.Duration(id[4] - '0')
		newSession(t, s, id, "u-1", endedAt(cutoff.Add(-k*time.Hour+time.Hour-time.Microsecond)))
	}
	newSession(t, s, "recent", "u-1", endedAt(cutoff))
	newSession(t, s, "live", "u-1")
	newSession(t, s, "inactive", "u-1", func(x *sessionmanager.Session) { x.Status, x.LastSeenAt = sessionmanager.StatusInactive, t0 })

	_, err := s.PurgeEnded(ctx, cutoff, 0)
	check(t, err != nil, "a batch of 0 is refused, not a purge of everything")
	// Batches of two: 2, 2, 1, the oldest ended first.
	batches := [][]string{{"old-5", "old-4"}, {"old-3", "old-2"}, {"old-1"}}
	for i, gone := range batches {
		n, err := s.PurgeEnded(ctx, cutoff, 2)
		noErr(t, err)
		equal(t, len(gone), n, "batch %d", i)
		for _, id := range gone {
			requireCode(t, second(s.SessionByID(ctx, id)), sessionmanager.ENOTFOUND, "%s purged in batch %d", id, i)
			requireCode(t, second(s.RefreshTokenByHash(ctx, hashOf(id+"/r0"))), sessionmanager.ENOTFOUND, "%s's refresh token purged", id)
		}
		for _, later := range batches[i+1:] {
			for _, id := range later {
				getSession(t, s, id)
			}
		}
	}
	for _, id := range []string{"recent", "live", "inactive"} {
		getSession(t, s, id)
		_, err := s.RefreshTokenByHash(ctx, hashOf(id+"/r0"))
		noErr(t, err, "%s's refresh token stays", id)
	}
	n, err := s.PurgeEnded(ctx, cutoff, 2)
	noErr(t, err)
	equal(t, 0, n, "nothing left to purge")
	n, err = s.PurgeEnded(ctx, cutoff.Add(time.Microsecond), 1000)
	noErr(t, err)
	equal(t, 1, n, "a later cutoff reaches the next one")
	requireCode(t, second(s.SessionByID(ctx, "recent")), sessionmanager.ENOTFOUND, "recent purged")
}

func testDeleteSession(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	newSession(t, s, "s-2", "u-1")
	noErr(t, s.DeleteSession(ctx, "s-1"))
	requireCode(t, second(s.SessionByID(ctx, "s-1")), sessionmanager.ENOTFOUND, "deleted")
	requireCode(t, second(s.RefreshTokenByHash(ctx, hashOf("s-1/r0"))), sessionmanager.ENOTFOUND, "its refresh token is deleted")
	_, err := s.RefreshTokenByHash(ctx, hashOf("s-2/r0"))
	noErr(t, err, "another session's token stays")
	requireCode(t, s.DeleteSession(ctx, "s-1"), sessionmanager.ENOTFOUND, "delete twice")
}

func testLoginHistory(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	h, err := s.LoginHistory(ctx, "u-1")
	noErr(t, err)
	check(t, len(h.Countries) == 0 && len(h.DeviceFamilies) == 0 && h.Previous == nil, "empty history: %+v", h)

	at := func(d time.Duration, country, browser, os string) sessionOpt {
		return func(x *sessionmanager.Session) {
			x.CreatedAt, x.LastSeenAt = t0.Add(d), t0.Add(d)
			x.Location = sessionmanager.Location{CountryCode: country}
			x.Device = sessionmanager.Device{Type: "desktop", Browser: browser, OS: os}
		}
	}
	newSession(t, s, "h1", "u-1", at(time.Hour, "DE", "Chrome", "Windows"))
	newSession(t, s, "h2", "u-1", at(2*time.Hour, "FR", "Safari", "iOS"))
	newSession(t, s, "h3", "u-1", at(3*time.Hour, "DE", "Chrome", "Windows"))
	newSession(t, s, "h4", "u-1", at(4*time.Hour, "", "Chrome", "Windows"), func(x *sessionmanager.Session) {
		x.Status, x.EndReason, x.EndedAt = sessionmanager.StatusEnded, sessionmanager.EndLogout, t0.Add(5*time.Hour)
	})
	newSession(t, s, "other", "u-2", at(9*time.Hour, "JP", "Edge", "Windows"))

	h, err = s.LoginHistory(ctx, "u-1")
	noErr(t, err)
	equal(t, []string{"DE", "FR"}, sorted(h.Countries), "distinct non-empty countries")
	equal(t, []string{"Chrome/Windows", "Safari/iOS"}, sorted(h.DeviceFamilies), "distinct device families")
	check(t, h.Previous != nil && h.Previous.ID == "h4", "previous is the most recent session, ended or not: %+v", h.Previous)
	check(t, h.Previous.UserEmail == "alice@example.com", "previous is a full session")
	check(t, h.FailedForAccount == 0 && h.FailedForIP == 0, "failed logins are counted elsewhere")
}
