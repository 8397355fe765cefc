package postgres_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Every sort, both directions, with ties on the sort key, walks all
// sessions once in order by cursor.
func TestListSessionsCursorWalk(t *testing.T) {
	s := openStore(t)
	u := mkUser(t, s, "ann")
	const n = 23
	for i := range n {
		mkSession(t, s, sid(i), u.ID, t0.Add(time.Duration(i/3)*time.Second), func(ses *sm.Session) {
			ses.LastSeenAt = t0.Add(time.Duration(n-i/2) * time.Second)
			ses.Score = i % 4
		})
	}
	for _, sortKey := range []sm.SessionSort{"", sm.SortCreated, sm.SortLastSeen, sm.SortScore} {
		for _, desc := range []bool{false, true} {
			got := walk(t, s, sm.SessionFilter{Sort: sortKey, Desc: desc, Limit: 4})
			all, err := s.ListSessions(context.Background(), sm.SessionFilter{Sort: sortKey, Desc: desc, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			want := sessionIDs(all.Sessions)
			if !slices.Equal(got, want) || len(got) != n {
				t.Fatalf("sort %q desc=%v: walk %v, one page %v", sortKey, desc, got, want)
			}
			key := func(ses *sm.Session) int64 {
				switch sortKey {
				case sm.SortLastSeen:
					return ses.LastSeenAt.UnixMicro()
				case sm.SortScore:
					return int64(ses.Score)
				}
				return ses.CreatedAt.UnixMicro()
			}
			sorted := slices.IsSortedFunc(all.Sessions, func(a, b *sm.Session) int {
				c := int(key(a)-key(b)) + 0
				if c == 0 {
					c = strings.Compare(a.ID, b.ID)
				}
				if desc {
					return -c
				}
				return c
			})
			if !sorted {
				t.Fatalf("sort %q desc=%v not in order: %v", sortKey, desc, want)
			}
		}
	}
	page, err := s.ListSessions(context.Background(), sm.SessionFilter{})
	if err != nil || len(page.Sessions) != n || page.NextCursor != "" {
		t.Fatalf("default page: %d sessions, cursor %q, %v", len(page.Sessions), page.NextCursor, err)
	}
	if page.Sessions[0].UserEmail != "ann@example.com" || page.Sessions[0].Username != "ann" {
		t.Fatalf("user not joined: %+v", page.Sessions[0])
	}
	for _, bad := range []sm.SessionFilter{{Cursor: "!!"}, {Cursor: "e30"}, {Sort: "bogus"}} {
		if _, err := s.ListSessions(context.Background(), bad); code(err) != sm.EINVALID {
			t.Errorf("filter %+v: %v, want invalid", bad, err)
		}
	}
}

// Filters select the right sessions; an IP prefix filters by range for
// IPv4, IPv6 and IPv4-mapped prefixes.
func TestListSessionsFilters(t *testing.T) {
	s := openStore(t)
	ann, bob := mkUser(t, s, "ann"), mkUser(t, s, "bob_x")
	addrs := map[string]string{"a": "10.1.2.3", "b": "10.1.200.9", "c": "10.2.0.1", "d": "2001:db8::1", "e": "2001:db8:1::5", "f": "::ffff:10.1.9.9"}
	for id, ip := range addrs {
		mkSession(t, s, id, ann.ID, t0, func(ses *sm.Session) { ses.IP = netip.MustParseAddr(ip) })
	}
	low := 30
	mkSession(t, s, "g", bob.ID, t0.Add(time.Hour), func(ses *sm.Session) {
		ses.IP = netip.Addr{}
		ses.Location = sm.Location{CountryCode: "fr", City: "Paris_100%"}
		ses.Device = sm.Device{Type: "mobile", Browser: "Safari", OS: "iOS"}
		ses.Threat = sm.Threat{Tor: true}
		ses.Score = low
		ses.Status = sm.StatusInactive
	})
	for _, tc := range []struct {
		name string
		f    sm.SessionFilter
		want []string
	}{
		{"v4 /16", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("10.1.0.0/16")}, []string{"a", "b", "f"}},
		{"v4 unmasked /24", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("10.1.2.77/24")}, []string{"a"}},
		{"v4 /32", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("10.2.0.1/32")}, []string{"c"}},
		{"v4 /0", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("0.0.0.0/0")}, []string{"a", "b", "c", "f"}},
		{"mapped /112", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("::ffff:10.1.0.0/112")}, []string{"a", "b", "f"}},
		{"v6 /48", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("2001:db8::/48")}, []string{"d"}},
		{"v6 /32", sm.SessionFilter{IPPrefix: netip.MustParsePrefix("2001:db8::/32")}, []string{"d", "e"}},
		{"country lower", sm.SessionFilter{Country: "fr"}, []string{"g"}},
		{"user", sm.SessionFilter{UserID: bob.ID}, []string{"g"}},
		{"status", sm.SessionFilter{Status: []sm.Status{sm.StatusInactive}}, []string{"g"}},
		{"device", sm.SessionFilter{DeviceType: "mobile"}, []string{"g"}},
		{"threat", sm.SessionFilter{AnyThreat: sm.Threat{VPN: true, Tor: true}}, []string{"g"}},
		{"threat none", sm.SessionFilter{AnyThreat: sm.Threat{VPN: true}}, nil},
		{"score", sm.SessionFilter{ScoreBelow: &low}, nil},
		{"from", sm.SessionFilter{From: t0.Add(time.Hour)}, []string{"g"}},
		{"to", sm.SessionFilter{To: t0.Add(time.Hour)}, []string{"a", "b", "c", "d", "e", "f"}},
		{"search email", sm.SessionFilter{Search: "BOB"}, []string{"g"}},
		{"search underscore literal", sm.SessionFilter{Search: "b_x"}, []string{"g"}},
		{"search underscore no wildcard", sm.SessionFilter{Search: "o_b"}, nil},
		{"search percent literal", sm.SessionFilter{Search: "100%"}, []string{"g"}},
		{"search percent alone", sm.SessionFilter{Search: "%"}, []string{"g"}},
		{"search ip prefix", sm.SessionFilter{Search: "2001:db8:1"}, []string{"e"}},
		{"search ip inside the address", sm.SessionFilter{Search: "db8:1"}, nil},
		// The prefix of the address as shown: f shows as ::ffff:10.1.9.9.
		{"search ip v4 prefix", sm.SessionFilter{Search: "10.1"}, []string{"a", "b"}},
		{"search city", sm.SessionFilter{Search: "paris"}, []string{"g"}},
		{"search browser", sm.SessionFilter{Search: "safari"}, []string{"g"}},
	} {
		got := walk(t, s, tc.f)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// SQL and pattern metacharacters, NUL and invalid UTF-8 in every text
	// filter: no effect beyond matching nothing, and never an error.
	for _, v := range []string{`'; DROP TABLE sessions; --`, `\`, `\%`, "a\x00b", "\xff\xfe", `"`, `$1`} {
		for _, f := range []sm.SessionFilter{{Search: v}, {Country: v}, {UserID: v}, {DeviceType: v}, {Status: []sm.Status{sm.Status(v)}}} {
			p, err := s.ListSessions(context.Background(), f)
			if err != nil || len(p.Sessions) != 0 {
				t.Errorf("filter %+v: %d sessions, %v", f, len(p.Sessions), err)
			}
		}
	}
	if n := len(walk(t, s, sm.SessionFilter{})); n != 7 {
		t.Fatalf("sessions table damaged: %d rows", n)
	}
}

// A session reads back as it was written, times in UTC.
func TestSessionRoundTrip(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	u := mkUser(t, s, "ann")
	berlin := time.FixedZone("CET", 3600)
	in := mkSession(t, s, "s1", u.ID, t0.In(berlin), func(ses *sm.Session) {
		ses.Location = sm.Location{CountryCode: "DE", CountryName: "Germany", Flag: "🇩🇪", City: "Berlin", Latitude: 52.5,
			Longitude: 13.4, HasCoordinates: true, ASN: 3320, ISP: "DTAG"}
		ses.Threat = sm.Threat{VPN: true, KnownThreat: true}
		ses.Reasons = []sm.RiskReason{{Code: sm.ReasonVPN, Weight: 20, Detail: "vpn"}}
		ses.RefreshSealed = []byte{1, 2, 3}
		ses.IP = netip.MustParseAddr("2001:db8::7")
	})
	got, err := s.SessionByID(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(in.CreatedAt) || !got.EndedAt.IsZero() {
		t.Fatalf("times: created %v ended %v", got.CreatedAt, got.EndedAt)
	}
	if got.IP != in.IP || got.Location != in.Location || got.Threat != in.Threat || got.Device != in.Device ||
		!slices.Equal(got.Reasons, in.Reasons) || string(got.RefreshSealed) != string(in.RefreshSealed) ||
		got.RefreshFamily != in.RefreshFamily || got.Score != in.Score || got.AuthMethod != in.AuthMethod {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, in)
	}
	if _, err := s.SessionByID(ctx, "nope"); code(err) != sm.ENOTFOUND {
		t.Fatalf("missing session: %v", err)
	}
	if err := s.CreateSession(ctx, &sm.Session{ID: "s1", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0}, []byte("other")); code(err) != sm.ECONFLICT {
		t.Fatalf("duplicate session: %v", err)
	}
	if _, err := s.SessionByID(ctx, "s1\x00"); code(err) != sm.ENOTFOUND {
		t.Fatalf("NUL id: %v", err)
	}
}

// Touch raises last_seen, never lowers it, reactivates inactive sessions
// and leaves ended ones alone; sweep inactivates, ends idle and expired.
func TestTouchAndSweep(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	u := mkUser(t, s, "ann")
	mkSession(t, s, "active", u.ID, t0, nil)
	mkSession(t, s, "inactive", u.ID, t0, func(ses *sm.Session) { ses.Status = sm.StatusInactive })
	mkSession(t, s, "ended", u.ID, t0, nil)
	if ended, err := s.EndSession(ctx, "ended", sm.EndLogout, t0); !ended || err != nil {
		t.Fatalf("end: %v %v", ended, err)
	}
	if ended, err := s.EndSession(ctx, "ended", sm.EndLogout, t0); ended || err != nil {
		t.Fatalf("end twice: %v %v", ended, err)
	}
	if _, err := s.EndSession(ctx, "nope", sm.EndLogout, t0); code(err) != sm.ENOTFOUND {
		t.Fatalf("end missing: %v", err)
	}
	later := t0.Add(time.Minute)
	err := s.TouchSessions(ctx, []sm.LastSeen{{SessionID: "active", At: later}, {SessionID: "active", At: t0.Add(-time.Hour)}, {SessionID: "inactive", At: later}, {SessionID: "ended", At: later}, {SessionID: "nope", At: later}})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]struct {
		st   sm.Status
		seen time.Time
	}{"active": {sm.StatusActive, later}, "inactive": {sm.StatusActive, later}, "ended": {sm.StatusEnded, t0}} {
		got, _ := s.SessionByID(ctx, id)
		if got.Status != want.st || !got.LastSeenAt.Equal(want.seen) {
			t.Errorf("%s after touch: %s %v, want %s %v", id, got.Status, got.LastSeenAt, want.st, want.seen)
		}
	}
	if err := s.TouchSessions(ctx, []sm.LastSeen{{SessionID: "active", At: t0}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByID(ctx, "active"); !got.LastSeenAt.Equal(later) {
		t.Fatalf("touch lowered last_seen to %v", got.LastSeenAt)
	}

	mkSession(t, s, "stale", u.ID, t0, nil)
	mkSession(t, s, "idle", u.ID, t0.Add(-2*time.Hour), nil)
	mkSession(t, s, "expired", u.ID, t0, func(ses *sm.Session) { ses.ExpiresAt = t0.Add(2 * time.Minute); ses.LastSeenAt = later })
	now := t0.Add(2 * time.Minute)
	inactivated, ended, err := s.SweepStale(ctx, sm.StaleSweep{Now: now, InactiveBefore: t0.Add(30 * time.Second), IdleBefore: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ended, func(a, b sm.Ended) int { return strings.Compare(a.SessionID, b.SessionID) })
	wantEnded := []sm.Ended{{SessionID: "expired", UserID: u.ID, Reason: sm.EndExpired}, {SessionID: "idle", UserID: u.ID, Reason: sm.EndIdle}}
	if inactivated != 1 || !slices.Equal(ended, wantEnded) {
		t.Fatalf("sweep: inactivated %d, ended %+v", inactivated, ended)
	}
	if got, _ := s.SessionByID(ctx, "stale"); got.Status != sm.StatusInactive {
		t.Fatalf("stale is %s", got.Status)
	}
	if got, _ := s.SessionByID(ctx, "idle"); got.Status != sm.StatusEnded || got.EndReason != sm.EndIdle || !got.EndedAt.Equal(now) {
		t.Fatalf("idle: %+v", got)
	}
	ids, err := s.EndUserSessions(ctx, u.ID, sm.EndBlocked, now, "active")
	if err != nil || !slices.Equal(ids, []string{"inactive", "stale"}) {
		t.Fatalf("end user sessions: %v %v", ids, err)
	}
	purged, err := s.PurgeEnded(ctx, now.Add(time.Second), 1_000_000)
	if err != nil || purged != 5 {
		t.Fatalf("purge: %d %v", purged, err)
	}
	if _, err := s.RefreshTokenByHash(ctx, []byte("rt-idle")); code(err) != sm.ENOTFOUND {
		t.Fatalf("refresh token of purged session: %v", err)
	}
}
