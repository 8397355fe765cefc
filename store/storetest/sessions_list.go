package storetest

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var sessionListTests = []namedTest{
	{"Filters", testListFilters},
	{"SortAndCursor", testListSort},
	{"SQLMetacharacters", testListMetacharacters},
	{"BadInput", testListBadInput},
	{"SearchAfterErase", testListSearchErased},
}

// testListSearchErased: a session's searched fields follow its row; once
// its user is erased, its old IP, city and ISP find it no more.
func testListSearchErased(t *testing.T, s Store) {
	listDataset(t, s)
	for _, q := range []string{"telekom", "berl", "203.0.113.200"} {
		equal(t, []string{"b"}, sorted(allSessions(t, s, sessionmanager.SessionFilter{Search: q}, 2)), "before: search %q", q)
	}
	noErr(t, s.EraseUser(t.Context(), "u-1", t0.Add(24*time.Hour)))
	for _, q := range []string{"telekom", "berl", "203.0.113.200", "verizon"} {
		equal(t, []string{}, sorted(allSessions(t, s, sessionmanager.SessionFilter{Search: q}, 2)), "after the erasure: search %q", q)
	}
	// The other user's sessions still match.
	equal(t, []string{"d"}, sorted(allSessions(t, s, sessionmanager.SessionFilter{Search: "amazon"}, 2)), "search another user's ISP")
}

// listFixture is a session of the filter dataset.
type listFixture struct {
	id, user, status, country, device, browser, os, city, ip string
	score                                                    int
	threat                                                   sessionmanager.Threat
	hoursAfterT0                                             int
}

// listISPs are the fixtures' ISPs, by session id.
var listISPs = map[string]string{"a": "Verizon Business", "b": "Deutsche Telekom AG", "d": "Amazon.com, Inc."}

// listDataset creates two users and six varied sessions.
func listDataset(t *testing.T, s Store) {
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.org", "bobby")
	for _, f := range []listFixture{
		{"a", "u-1", "active", "US", "desktop", "Chrome", "Windows", "New York", "203.0.113.5", 90, sessionmanager.Threat{}, 1},
		{"b", "u-1", "inactive", "DE", "mobile", "Safari", "iOS", "Berlin", "203.0.113.200", 40, sessionmanager.Threat{VPN: true}, 2},
		{"c", "u-2", "ended", "US", "tablet", "Firefox", "Android", "Austin", "198.51.100.7", 70, sessionmanager.Threat{Tor: true}, 3},
		{"d", "u-2", "active", "JP", "desktop", "Edge", "Windows", "Tokyo", "2001:db8::1", 20, sessionmanager.Threat{Datacenter: true, KnownThreat: true}, 4},
		{"e", "u-1", "active", "", "bot", "", "", "", "2001:db8:1::5", 100, sessionmanager.Threat{}, 5},
		{"f", "u-2", "active", "FR", "desktop", "Chrome", "macOS", "Paris", "", 55, sessionmanager.Threat{Proxy: true}, 6},
	} {
		newSession(t, s, f.id, f.user, func(x *sessionmanager.Session) {
			x.Status = sessionmanager.Status(f.status)
			if f.status == "ended" {
				x.EndReason, x.EndedAt = sessionmanager.EndLogout, t0.Add(10*time.Hour)
			}
			x.CreatedAt = t0.Add(time.Duration(f.hoursAfterT0) * time.Hour)
			x.LastSeenAt = x.CreatedAt
			x.Location = sessionmanager.Location{CountryCode: f.country, City: f.city, ISP: listISPs[f.id]}
			x.Device = sessionmanager.Device{Type: f.device, Browser: f.browser, OS: f.os}
			x.IP = netip.Addr{}
			if f.ip != "" {
				x.IP = netip.MustParseAddr(f.ip)
			}
			x.Score, x.Threat = f.score, f.threat
		})
	}
}

func testListFilters(t *testing.T, s Store) {
	listDataset(t, s)
	pfx := netip.MustParsePrefix
	below := func(n int) *int { return &n }
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	for _, c := range []struct {
		name string
		f    sessionmanager.SessionFilter
		want []string
	}{
		{"no filter", sessionmanager.SessionFilter{}, []string{"a", "b", "c", "d", "e", "f"}},
		{"status active", sessionmanager.SessionFilter{Status: []sessionmanager.Status{"active"}}, []string{"a", "d", "e", "f"}},
		{"status inactive or ended", sessionmanager.SessionFilter{Status: []sessionmanager.Status{"inactive", "ended"}}, []string{"b", "c"}},
		{"user", sessionmanager.SessionFilter{UserID: "u-2"}, []string{"c", "d", "f"}},
		{"country", sessionmanager.SessionFilter{Country: "US"}, []string{"a", "c"}},
		{"country lower case", sessionmanager.SessionFilter{Country: "us"}, []string{"a", "c"}},
		{"ip v4 single", sessionmanager.SessionFilter{IPPrefix: pfx("203.0.113.5/32")}, []string{"a"}},
		{"ip v4 cidr", sessionmanager.SessionFilter{IPPrefix: pfx("203.0.113.0/24")}, []string{"a", "b"}},
		{"ip v4 unmasked cidr", sessionmanager.SessionFilter{IPPrefix: pfx("203.0.113.77/25")}, []string{"a"}},
		{"ip v4 all, no v6", sessionmanager.SessionFilter{IPPrefix: pfx("0.0.0.0/0")}, []string{"a", "b", "c"}},
		{"ip v6 single", sessionmanager.SessionFilter{IPPrefix: pfx("2001:db8::1/128")}, []string{"d"}},
		{"ip v6 cidr", sessionmanager.SessionFilter{IPPrefix: pfx("2001:db8::/32")}, []string{"d", "e"}},
		{"ip v6 narrow cidr", sessionmanager.SessionFilter{IPPrefix: pfx("2001:db8:1::/48")}, []string{"e"}},
		{"device type", sessionmanager.SessionFilter{DeviceType: "desktop"}, []string{"a", "d", "f"}},
		{"threat vpn", sessionmanager.SessionFilter{AnyThreat: sessionmanager.Threat{VPN: true}}, []string{"b"}},
		{"threat tor or proxy", sessionmanager.SessionFilter{AnyThreat: sessionmanager.Threat{Tor: true, Proxy: true}}, []string{"c", "f"}},
		{"threat known", sessionmanager.SessionFilter{AnyThreat: sessionmanager.Threat{KnownThreat: true}}, []string{"d"}},
		{"threat datacenter", sessionmanager.SessionFilter{AnyThreat: sessionmanager.Threat{Datacenter: true}}, []string{"d"}},
		{"score below 55", sessionmanager.SessionFilter{ScoreBelow: below(55)}, []string{"b", "d"}},
		{"score below 56", sessionmanager.SessionFilter{ScoreBelow: below(56)}, []string{"b", "d", "f"}},
		{"score below 0", sessionmanager.SessionFilter{ScoreBelow: below(0)}, []string{}},
		{"from inclusive", sessionmanager.SessionFilter{From: at(2)}, []string{"b", "c", "d", "e", "f"}},
		{"to exclusive", sessionmanager.SessionFilter{To: at(3)}, []string{"a", "b"}},
		{"from and to", sessionmanager.SessionFilter{From: at(2), To: at(4)}, []string{"b", "c"}},
		{"search email, other case", sessionmanager.SessionFilter{Search: "ALICE@"}, []string{"a", "b", "e"}},
		{"search username", sessionmanager.SessionFilter{Search: "bobby"}, []string{"c", "d", "f"}},
		{"search email domain", sessionmanager.SessionFilter{Search: "example.org"}, []string{"c", "d", "f"}},
		{"search ip", sessionmanager.SessionFilter{Search: "203.0.113"}, []string{"a", "b"}},
		{"search ip v6", sessionmanager.SessionFilter{Search: "2001:db8"}, []string{"d", "e"}},
		// A partial address (digits and dots, or hex and colons) is a prefix
		// of the IP, not a substring (sessionmanager.SearchIsIPPrefix).
		{"search ip prefix, last octet partial", sessionmanager.SessionFilter{Search: "203.0.113.2"}, []string{"b"}},
		{"search ip, inside the address", sessionmanager.SessionFilter{Search: "0.113"}, []string{}},
		{"search ip v6 prefix, other case", sessionmanager.SessionFilter{Search: "2001:DB8:1"}, []string{"e"}},
		{"search ip v6, inside the address", sessionmanager.SessionFilter{Search: "db8:"}, []string{}},
		{"search hex without a colon is a substring", sessionmanager.SessionFilter{Search: "db8"}, []string{"d", "e"}},
		{"search browser", sessionmanager.SessionFilter{Search: "chrome"}, []string{"a", "f"}},
		{"search os", sessionmanager.SessionFilter{Search: "WINDOWS"}, []string{"a", "d"}},
		{"search city", sessionmanager.SessionFilter{Search: "berl"}, []string{"b"}},
		{"search nothing matches", sessionmanager.SessionFilter{Search: "zzz"}, []string{}},
		{"search isp", sessionmanager.SessionFilter{Search: "telekom"}, []string{"b"}},
		{"search isp, other case", sessionmanager.SessionFilter{Search: "VERIZON"}, []string{"a"}},
		{"search isp short", sessionmanager.SessionFilter{Search: "ag"}, []string{"b"}},
		// a's browser and OS side by side: a match never spans two fields.
		{"search across two fields", sessionmanager.SessionFilter{Search: "chrome\x1fwindows"}, []string{}},
		{"search across browser and os", sessionmanager.SessionFilter{Search: "chromewindows"}, []string{}},
		{"search across email and username", sessionmanager.SessionFilter{Search: "example.comalice"}, []string{}},
		{"search across email and username, separated", sessionmanager.SessionFilter{Search: "example.com\x1falice"}, []string{}},
		{"search email and username, other case", sessionmanager.SessionFilter{Search: "BoBbY"}, []string{"c", "d", "f"}},
		{"search a country's name", sessionmanager.SessionFilter{Search: "germany", SearchCountries: []string{"DE"}}, []string{"b"}},
		{"search countries or text", sessionmanager.SessionFilter{Search: "chrome", SearchCountries: []string{"JP"}}, []string{"a", "d", "f"}},
		{"search countries and other filters", sessionmanager.SessionFilter{Search: "xyz", SearchCountries: []string{"JP", "US"}, Status: []sessionmanager.Status{"active"}}, []string{"a", "d"}},
		{"status and user", sessionmanager.SessionFilter{Status: []sessionmanager.Status{"active"}, UserID: "u-1"}, []string{"a", "e"}},
		{"country and threat and score", sessionmanager.SessionFilter{Country: "us", AnyThreat: sessionmanager.Threat{Tor: true}, ScoreBelow: below(71)}, []string{"c"}},
	} {
		equal(t, sorted(c.want), sorted(allSessions(t, s, c.f, 2)), c.name)
		// The count is of the same filter, every page, whatever the limit.
		c.f.Limit = 1
		if n, err := s.CountSessions(context.Background(), c.f, 100); err != nil || n != len(c.want) {
			t.Errorf("%s: CountSessions = %d, %v; want %d", c.name, n, err, len(c.want))
		}
	}
	// The count stops one past atMost.
	for atMost, want := range map[int]int{0: 1, 3: 4, 5: 6, 6: 6, 100: 6} {
		if n, err := s.CountSessions(context.Background(), sessionmanager.SessionFilter{}, atMost); err != nil || n != want {
			t.Errorf("CountSessions(atMost %d) = %d, %v; want %d", atMost, n, err, want)
		}
	}
}

func testListSort(t *testing.T, s Store) {
	newUser(t, s, "u-1", "alice@example.com", "alice")
	var all []*sessionmanager.Session
	for i := range 13 {
		all = append(all, newSession(t, s, fmt.Sprintf("s-%02d", (i*7)%13), "u-1", func(x *sessionmanager.Session) {
			x.CreatedAt = t0.Add(time.Duration(i/2) * time.Minute) // pairs tie: id breaks them
			x.LastSeenAt = t0.Add(time.Duration((i*5)%13) * time.Minute)
			x.Score = 50 + (i%3)*10
		}))
	}
	keys := map[sessionmanager.SessionSort]func(*sessionmanager.Session) int64{
		"":                          func(x *sessionmanager.Session) int64 { return x.CreatedAt.UnixMicro() },
		sessionmanager.SortCreated:  func(x *sessionmanager.Session) int64 { return x.CreatedAt.UnixMicro() },
		sessionmanager.SortLastSeen: func(x *sessionmanager.Session) int64 { return x.LastSeenAt.UnixMicro() },
		sessionmanager.SortScore:    func(x *sessionmanager.Session) int64 { return int64(x.Score) },
	}
	for sort, key := range keys {
		for _, desc := range []bool{false, true} {
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b *sessionmanager.Session) int {
				return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.ID, b.ID))
			})
			if desc {
				slices.Reverse(want)
			}
			var wantIDs []string
			for _, x := range want {
				wantIDs = append(wantIDs, x.ID)
			}
			for _, pageSize := range []int{1, 4, 13, 50} {
				got := allSessions(t, s, sessionmanager.SessionFilter{Sort: sort, Desc: desc}, pageSize)
				equal(t, wantIDs, got, "sort %q desc=%v page size %d", sort, desc, pageSize)
			}
		}
	}
	// A filter applies on every page.
	got := allSessions(t, s, sessionmanager.SessionFilter{Sort: sessionmanager.SortScore, Desc: true, ScoreBelow: ptr(60)}, 2)
	check(t, len(got) == 5, "score < 60 over pages: %v", got)
}

// metacharacters are inputs that would change an SQL statement built by
// concatenation or a LIKE pattern left unescaped.
var metacharacters = []string{
	`'`, `"`, `;`, `--`, `%`, `_`, `\`, `%%`, `\%`, `a%`, `'; DROP TABLE sessions; --`,
	`' OR '1'='1`, `" OR ""="`, `x' UNION SELECT id, email FROM users --`, `') OR 1=1 --`,
}

func testListMetacharacters(t *testing.T, s Store) {
	ctx := t.Context()
	listDataset(t, s)
	for _, m := range metacharacters {
		for name, f := range map[string]sessionmanager.SessionFilter{
			"search": {Search: m}, "user": {UserID: m}, "country": {Country: m}, "device type": {DeviceType: m},
			"status": {Status: []sessionmanager.Status{sessionmanager.Status(m)}},
		} {
			page, err := s.ListSessions(ctx, f)
			noErr(t, err, "%s %q", name, m)
			check(t, len(page.Sessions) == 0, "%s %q matched %d sessions", name, m, len(page.Sessions))
		}
		us, _, err := s.ListUsers(ctx, sessionmanager.UserFilter{Search: m})
		noErr(t, err, "user search %q", m)
		check(t, len(us) == 0, "user search %q matched %d users", m, len(us))
		requireCode(t, second(s.UserByIdentifier(ctx, m)), sessionmanager.ENOTFOUND, "identifier %q", m)
		requireCode(t, second(s.UserByExternalID(ctx, m)), sessionmanager.ENOTFOUND, "external id %q", m)
		requireCode(t, second(s.SessionByID(ctx, m)), sessionmanager.ENOTFOUND, "session id %q", m)
		requireCode(t, second(s.GetSetting(ctx, m)), sessionmanager.ENOTFOUND, "setting %q", m)
		requireCode(t, second(s.AdminByEmail(ctx, m)), sessionmanager.ENOTFOUND, "admin email %q", m)
		h, err := s.LoginHistory(ctx, m)
		noErr(t, err, "login history %q", m)
		check(t, h.Previous == nil, "login history %q found a session", m)
		evs, _, err := s.ListEvents(ctx, sessionmanager.EventFilter{Types: []string{m}, UserID: m, SessionID: m, ActorID: m, IP: m})
		noErr(t, err, "events %q", m)
		check(t, len(evs) == 0, "events %q", m)
		ds, _, err := s.ListDeliveries(ctx, sessionmanager.DeliveryFilter{Status: m})
		noErr(t, err, "deliveries %q", m)
		check(t, len(ds) == 0, "deliveries %q", m)
	}
	// No effect: every row is still there, unchanged.
	equal(t, []string{"a", "b", "c", "d", "e", "f"}, sorted(allSessions(t, s, sessionmanager.SessionFilter{}, 50)), "sessions intact")
	us, _, err := s.ListUsers(ctx, sessionmanager.UserFilter{})
	noErr(t, err)
	equal(t, 2, len(us), "users intact")
	// A metacharacter that is really in the data matches only literally.
	newUser(t, s, "u-meta", `o'hara_100%@example.com`, `o"hara\x`)
	for _, m := range []string{`'`, `_`, `%`, `"`, `\`, `o'hara_100%`} {
		us, _, err := s.ListUsers(ctx, sessionmanager.UserFilter{Search: m})
		noErr(t, err, "search %q", m)
		check(t, len(us) == 1 && us[0].ID == "u-meta", "search %q: %d users", m, len(us))
	}
}

func testListBadInput(t *testing.T, s Store) {
	ctx := t.Context()
	listDataset(t, s)
	_, err := s.ListSessions(ctx, sessionmanager.SessionFilter{Cursor: "%%%not-a-cursor"})
	requireCode(t, err, sessionmanager.EINVALID, "a cursor the store did not make")
	page, err := s.ListSessions(ctx, sessionmanager.SessionFilter{Limit: 100000})
	noErr(t, err, "a huge limit is capped, not refused")
	equal(t, 6, len(page.Sessions))
	page, err = s.ListSessions(ctx, sessionmanager.SessionFilter{Limit: -3})
	noErr(t, err, "a negative limit means the default")
	equal(t, 6, len(page.Sessions))
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
