package risk

import (
	"errors"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// reasonList renders reasons as "code:weight,..." in order.
func reasonList(rs []sm.RiskReason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Code + ":" + strconv.Itoa(r.Weight)
	}
	return strings.Join(parts, ",")
}

type assessCase struct {
	name     string
	settings *sm.Settings // nil: defaults
	attempt  sm.LoginAttempt
	history  sm.LoginHistory
	reasons  string
	score    int
	action   sm.Action
	block    string
	trig     map[string]sm.Action
}

// runAssess checks every field of the assessment of each case.
func runAssess(t *testing.T, cases []assessCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Engine{}.Assess(tc.settings, tc.attempt, tc.history)
			if r := reasonList(got.Reasons); r != tc.reasons {
				t.Errorf("reasons = %q, want %q (%+v)", r, tc.reasons, got.Reasons)
			}
			if got.Score != tc.score {
				t.Errorf("score = %d, want %d", got.Score, tc.score)
			}
			want := tc.action
			if want == "" {
				want = sm.ActionAllow
			}
			if got.Action != want {
				t.Errorf("action = %q, want %q", got.Action, want)
			}
			if got.BlockReason != tc.block {
				t.Errorf("blockReason = %q, want %q", got.BlockReason, tc.block)
			}
			if !maps.Equal(got.Triggered, tc.trig) {
				t.Errorf("triggered = %v, want %v", got.Triggered, tc.trig)
			}
			if got.Reasons == nil {
				t.Errorf("reasons is nil, want an empty slice (JSON [])")
			}
		})
	}
}

func TestAssessSignals(t *testing.T) {
	unknownDevice := attempt(berlin)
	unknownDevice.Device = sm.Device{Type: "unknown", Browser: "Chrome", OS: "Linux"}
	noBrowser := attempt(berlin)
	noBrowser.Device = sm.Device{Type: "mobile", OS: "Android"}
	zeroDevice := attempt(berlin)
	zeroDevice.Device = sm.Device{}
	firefox := attempt(berlin)
	firefox.Device = winFirefox
	firefoxTokyo := attempt(tokyo)
	firefoxTokyo.Device = winFirefox
	lowerHistory := history(24 * time.Hour)
	lowerHistory.Countries = []string{"de"}
	lowerHistory.DeviceFamilies = []string{"chrome/macos"}
	countriesOnly := sm.LoginHistory{Countries: []string{"DE"}, DeviceFamilies: []string{macChrome.Family()}}
	previousOnly := sm.LoginHistory{Previous: prevSession(berlin, 24*time.Hour)}
	notFound := attempt(sm.GeoResult{})
	failed := func(account, ip int64) sm.LoginHistory {
		h := history(24 * time.Hour)
		h.FailedForAccount, h.FailedForIP = account, ip
		return h
	}

	runAssess(t, []assessCase{
		{name: "known user, same place", attempt: attempt(berlin), history: history(time.Hour), score: 100},
		{name: "first ever login: no history, no signal", attempt: firefoxTokyo, score: 100},
		{name: "new country", attempt: attempt(tokyo), history: history(24 * time.Hour),
			reasons: "new_country:20", score: 80},
		{name: "new country with countries but no previous", attempt: attempt(tokyo), history: countriesOnly,
			reasons: "new_country:20", score: 80},
		{name: "new country with previous but no countries", attempt: attempt(tokyo), history: previousOnly,
			reasons: "new_country:20", score: 80},
		{name: "known country in lower case history", attempt: attempt(berlin), history: lowerHistory, score: 100},
		{name: "no geo data (not found)", attempt: notFound, history: history(time.Minute), score: 100},
		{name: "new device", attempt: firefox, history: history(time.Hour),
			reasons: "new_device:10", score: 90},
		{name: "new device and new country", attempt: firefoxTokyo, history: history(24 * time.Hour),
			reasons: "new_country:20,new_device:10", score: 70},
		{name: "unknown device type never new", attempt: unknownDevice, history: history(time.Hour), score: 100},
		{name: "empty browser never new", attempt: noBrowser, history: history(time.Hour), score: 100},
		{name: "unparsed device never new", attempt: zeroDevice, history: history(time.Hour), score: 100},
		{name: "new device with previous only", attempt: firefox, history: sm.LoginHistory{Previous: prevSession(berlin, time.Hour)},
			reasons: "new_device:10", score: 90},
		{name: "failed logins for account at limit", attempt: attempt(berlin), history: failed(5, 0),
			reasons: "failed_logins:20", score: 80},
		{name: "failed logins for account below limit", attempt: attempt(berlin), history: failed(4, 19), score: 100},
		{name: "failed logins from IP at limit", attempt: attempt(berlin), history: failed(0, 20),
			reasons: "failed_logins:20", score: 80},
		{name: "failed logins both fire once", attempt: attempt(berlin), history: failed(50, 500),
			reasons: "failed_logins:20", score: 80},
		{name: "failed logins off", settings: settingsWith(func(s *sm.Settings) { s.FailedLoginsAccount, s.FailedLoginsIP = 0, 0 }),
			attempt: attempt(berlin), history: failed(1000, 1000), score: 100},
	})
}

func TestAssessThreats(t *testing.T) {
	h := history(time.Hour)
	tor := withThreat(berlin, sm.Threat{Tor: true})
	all := withThreat(berlin, sm.Threat{Tor: true, KnownThreat: true, Proxy: true, VPN: true, Datacenter: true})
	runAssess(t, []assessCase{
		{name: "tor blocks, score 40 is not low", attempt: attempt(tor), history: h,
			reasons: "tor:60", score: 40, action: sm.ActionBlock, block: "tor",
			trig: map[string]sm.Action{"tor": sm.ActionBlock}},
		{name: "known threat blocks", attempt: attempt(withThreat(berlin, sm.Threat{KnownThreat: true})), history: h,
			reasons: "known_threat:60", score: 40, action: sm.ActionBlock, block: "known_threat",
			trig: map[string]sm.Action{"known_threat": sm.ActionBlock}},
		{name: "proxy alerts", attempt: attempt(withThreat(berlin, sm.Threat{Proxy: true})), history: h,
			reasons: "proxy:40", score: 60, action: sm.ActionAlert,
			trig: map[string]sm.Action{"proxy": sm.ActionAlert}},
		{name: "vpn alerts", attempt: attempt(withThreat(berlin, sm.Threat{VPN: true})), history: h,
			reasons: "vpn:30", score: 70, action: sm.ActionAlert,
			trig: map[string]sm.Action{"vpn": sm.ActionAlert}},
		{name: "datacenter is allowed but listed", attempt: attempt(withThreat(berlin, sm.Threat{Datacenter: true})), history: h,
			reasons: "datacenter:20", score: 80,
			trig: map[string]sm.Action{"datacenter": sm.ActionAllow}},
		{name: "vpn on datacenter stacks", attempt: attempt(withThreat(berlin, sm.Threat{VPN: true, Datacenter: true})), history: h,
			reasons: "vpn:30,datacenter:20", score: 50, action: sm.ActionAlert,
			trig: map[string]sm.Action{"vpn": sm.ActionAlert, "datacenter": sm.ActionAllow}},
		{name: "every flag: score clamped at 0, tor named", attempt: attempt(all), history: h,
			reasons: "tor:60,known_threat:60,proxy:40,vpn:30,datacenter:20", score: 0, action: sm.ActionBlock, block: "tor",
			trig: map[string]sm.Action{"tor": "block", "known_threat": "block", "proxy": "alert", "vpn": "alert", "datacenter": "allow", "low_score": "alert"}},
		{name: "threat flags count even without location", attempt: attempt(sm.GeoResult{Threat: sm.Threat{Tor: true}}),
			reasons: "tor:60", score: 40, action: sm.ActionBlock, block: "tor",
			trig: map[string]sm.Action{"tor": sm.ActionBlock}},
	})
}

func TestAssessImpossibleTravel(t *testing.T) {
	h := func(from sm.GeoResult, lastSeenAgo time.Duration, countries ...string) sm.LoginHistory {
		return sm.LoginHistory{Countries: countries, DeviceFamilies: []string{macChrome.Family()}, Previous: prevSession(from, lastSeenAgo)}
	}
	lastSeenZero := h(berlin, 0, "DE")
	lastSeenZero.Previous.LastSeenAt = time.Time{}
	lastSeenZero.Previous.CreatedAt = t0.Add(-30 * time.Minute)
	createdLater := h(berlin, 10*time.Hour, "DE")
	createdLater.Previous.CreatedAt = t0.Add(-30 * time.Minute)
	noTimes := h(berlin, 0, "DE")
	noTimes.Previous.CreatedAt, noTimes.Previous.LastSeenAt = time.Time{}, time.Time{}
	zeroAt := attempt(paris)
	zeroAt.At = time.Time{}
	prevNoCoords := h(berlin, time.Minute, "DE")
	prevNoCoords.Previous.Location.HasCoordinates = false
	prevPrivate := h(berlin, time.Minute, "DE")
	prevPrivate.Previous.IP = netip.MustParseAddr("192.168.1.10")
	prevLocal := h(berlin, time.Minute, "DE")
	prevLocal.Previous.Location.Local = true
	noCoords := paris
	noCoords.Location.HasCoordinates = false
	ipv6 := attempt(sydney)
	ipv6.IP = netip.MustParseAddr("2001:4860:4860::8888")
	prevAnon := h(withThreat(berlin, sm.Threat{Datacenter: true}), time.Minute, "DE")
	low := map[string]sm.Action{"low_score": sm.ActionAlert}

	runAssess(t, []assessCase{
		{name: "Berlin to Sydney in 70m", attempt: attempt(sydney), history: h(berlin, 70*time.Minute, "DE"),
			reasons: "impossible_travel:50,new_country:20", score: 30, action: sm.ActionAlert, trig: low},
		{name: "Berlin to Sydney in 20h is a flight", attempt: attempt(sydney), history: h(berlin, 20*time.Hour, "DE"),
			reasons: "new_country:20", score: 80},
		{name: "Berlin to Paris in 2h is possible", attempt: attempt(paris), history: h(berlin, 2*time.Hour, "DE"),
			reasons: "new_country:20", score: 80},
		{name: "Berlin to Paris in 30m is not", attempt: attempt(paris), history: h(berlin, 30*time.Minute, "DE", "FR"),
			reasons: "impossible_travel:50", score: 50},
		{name: "uses last seen, not created", attempt: attempt(paris), history: h(berlin, 10*time.Minute, "DE", "FR"),
			reasons: "impossible_travel:50", score: 50},
		{name: "created when last seen is zero", attempt: attempt(paris), history: lastSeenZero,
			reasons: "impossible_travel:50,new_country:20", score: 30, action: sm.ActionAlert, trig: low},
		{name: "later of created and last seen", attempt: attempt(paris), history: createdLater,
			reasons: "impossible_travel:50,new_country:20", score: 30, action: sm.ActionAlert, trig: low},
		{name: "no previous times: no speed", attempt: attempt(paris), history: noTimes, reasons: "new_country:20", score: 80},
		{name: "attempt without time: no speed", attempt: zeroAt, history: h(berlin, time.Minute, "DE", "FR"), score: 100},
		{name: "same instant above the floor", attempt: attempt(paris), history: h(berlin, 0, "DE", "FR"),
			reasons: "impossible_travel:50", score: 50},
		{name: "negative elapsed (clock skew) is same instant", attempt: attempt(paris), history: h(berlin, -5*time.Minute, "DE", "FR"),
			reasons: "impossible_travel:50", score: 50},
		{name: "below the floor at the same instant", attempt: attempt(potsdam), history: h(berlin, 0, "DE"), score: 100},
		{name: "floor raised above the distance", settings: settingsWith(func(s *sm.Settings) { s.TravelMinDistanceKM = 1000 }),
			attempt: attempt(paris), history: h(berlin, 0, "DE", "FR"), score: 100},
		{name: "speed limit raised", settings: settingsWith(func(s *sm.Settings) { s.ImpossibleTravelKMH = 2000 }),
			attempt: attempt(paris), history: h(berlin, 30*time.Minute, "DE", "FR"), score: 100},
		{name: "zero speed limit falls back to default", settings: settingsWith(func(s *sm.Settings) { s.ImpossibleTravelKMH = 0 }),
			attempt: attempt(paris), history: h(berlin, 2*time.Hour, "DE", "FR"), score: 100},
		{name: "antimeridian: Fiji to Samoa in 2h is short", attempt: attempt(apia), history: h(suva, 2*time.Hour, "FJ", "WS"), score: 100},
		{name: "antimeridian: Fiji to Samoa in 30m is not", attempt: attempt(apia), history: h(suva, 30*time.Minute, "FJ", "WS"),
			reasons: "impossible_travel:50", score: 50},
		{name: "antimeridian near the pole is short", attempt: attempt(at(apia, 85, -170)), history: h(at(suva, 85, 170), 0, "FJ", "WS"), score: 100},
		{name: "across the north pole", attempt: attempt(at(apia, 89.5, 180)), history: h(at(suva, 89.5, 0), 0, "FJ", "WS"), score: 100},
		{name: "over the pole far apart", attempt: attempt(at(apia, 80, 180)), history: h(at(suva, 80, 0), time.Hour, "FJ", "WS"),
			reasons: "impossible_travel:50", score: 50},
		{name: "anonymous now (vpn)", attempt: attempt(withThreat(sydney, sm.Threat{VPN: true})), history: h(berlin, time.Minute, "DE"),
			reasons: "vpn:30,new_country:20", score: 50, action: sm.ActionAlert, trig: map[string]sm.Action{"vpn": sm.ActionAlert}},
		{name: "anonymous before (datacenter)", attempt: attempt(sydney), history: prevAnon,
			reasons: "new_country:20", score: 80},
		{name: "previous without coordinates", attempt: attempt(sydney), history: prevNoCoords, reasons: "new_country:20", score: 80},
		{name: "attempt without coordinates", attempt: attempt(noCoords), history: h(berlin, time.Minute, "DE"), reasons: "new_country:20", score: 80},
		{name: "previous from a private address", attempt: attempt(sydney), history: prevPrivate, reasons: "new_country:20", score: 80},
		{name: "previous flagged local", attempt: attempt(sydney), history: prevLocal, reasons: "new_country:20", score: 80},
		{name: "coordinates off the globe", attempt: attempt(at(paris, 200, 2)), history: h(berlin, 0, "DE", "FR"), score: 100},
		{name: "IPv6 attempt", attempt: ipv6, history: h(berlin, 70*time.Minute, "DE"),
			reasons: "impossible_travel:50,new_country:20", score: 30, action: sm.ActionAlert, trig: low},
	})
}

func TestAssessLocalAddresses(t *testing.T) {
	privateV4 := attempt(withThreat(sydney, sm.Threat{Tor: true}))
	privateV4.IP = netip.MustParseAddr("10.1.2.3")
	ula := attempt(sydney)
	ula.IP = netip.MustParseAddr("fd12:3456::1")
	mapped := attempt(sydney)
	mapped.IP = netip.MustParseAddr("::ffff:192.168.0.7")
	cgnatAddr := attempt(sydney)
	cgnatAddr.IP = netip.MustParseAddr("100.64.12.1")
	flagged := attempt(sm.GeoResult{Location: sm.Location{Local: true}})
	flagged.IP = netip.MustParseAddr("203.0.113.9") // documentation: geo calls it local
	failedLocal := attempt(sm.GeoResult{})
	failedLocal.IP = netip.MustParseAddr("127.0.0.1")
	failedLocal.GeoErr = errors.New("database closed")
	fence := settingsWith(func(s *sm.Settings) {
		s.AllowedCountries = []string{"DE"}
		s.GeoLookupFailure = "block"
	})
	h := history(time.Minute)
	runAssess(t, []assessCase{
		{name: "private IPv4: no geo signals even if flags came back", settings: fence, attempt: privateV4, history: h, score: 100},
		{name: "IPv6 ULA", settings: fence, attempt: ula, history: h, score: 100},
		{name: "IPv4-mapped private", settings: fence, attempt: mapped, history: h, score: 100},
		{name: "CGNAT", settings: fence, attempt: cgnatAddr, history: h, score: 100},
		{name: "resolver says local", settings: fence, attempt: flagged, history: h, score: 100},
		{name: "lookup failure on loopback is not a failure", settings: fence, attempt: failedLocal, history: h, score: 100},
	})
}

func TestAssessGeoLookupFailure(t *testing.T) {
	failed := attempt(withThreat(sydney, sm.Threat{Tor: true})) // partial answer must be ignored
	failed.GeoErr = errors.New("mmdb: corrupt")
	failed.Device = winFirefox
	runAssess(t, []assessCase{
		{name: "allow: continue without geo signals", settings: settingsWith(nil), attempt: failed, history: history(time.Minute),
			reasons: "new_device:10", score: 90, trig: map[string]sm.Action{"geo_lookup_failed": sm.ActionAllow}},
		{name: "block", settings: settingsWith(func(s *sm.Settings) { s.GeoLookupFailure = "block" }), attempt: failed, history: history(time.Minute),
			reasons: "new_device:10", score: 90, action: sm.ActionBlock, block: "geo_lookup_failed",
			trig: map[string]sm.Action{"geo_lookup_failed": sm.ActionBlock}},
		{name: "block before the geofence", settings: settingsWith(func(s *sm.Settings) {
			s.GeoLookupFailure = "block"
			s.AllowedCountries = []string{"DE"}
		}), attempt: failed, history: history(time.Minute),
			reasons: "new_device:10", score: 90, action: sm.ActionBlock, block: "geo_lookup_failed",
			trig: map[string]sm.Action{"geo_lookup_failed": sm.ActionBlock}},
	})
}

func TestAssessGeofence(t *testing.T) {
	allowDE := func(fail string) *sm.Settings {
		return settingsWith(func(s *sm.Settings) {
			s.AllowedCountries = []string{"DE", "AT"}
			s.GeoLookupFailure = fail
		})
	}
	blockRU := settingsWith(func(s *sm.Settings) { s.BlockedCountries = []string{"RU"} })
	blockLower := settingsWith(func(s *sm.Settings) { s.BlockedCountries = []string{"ru"} })
	alertOnly := settingsWith(func(s *sm.Settings) {
		s.BlockedCountries = []string{"RU"}
		s.Actions.Geofence = sm.ActionAlert
	})
	moscow := place("Moscow", "RU", "Russia", 55.7558, 37.6173)
	fenced := map[string]sm.Action{"geofence": sm.ActionBlock}
	first := sm.LoginHistory{}
	runAssess(t, []assessCase{
		{name: "allowed country", settings: allowDE("allow"), attempt: attempt(berlin), history: first, score: 100},
		{name: "outside the allow list", settings: allowDE("allow"), attempt: attempt(paris), history: first,
			score: 100, action: sm.ActionBlock, block: "geofence", trig: fenced},
		{name: "unknown country, allow list, failure allow", settings: allowDE("allow"), attempt: attempt(sm.GeoResult{}), history: first, score: 100},
		{name: "unknown country, allow list, failure block", settings: allowDE("block"), attempt: attempt(sm.GeoResult{}), history: first,
			score: 100, action: sm.ActionBlock, block: "geofence", trig: fenced},
		{name: "unknown country, no allow list, failure block", settings: settingsWith(func(s *sm.Settings) { s.GeoLookupFailure = "block" }),
			attempt: attempt(sm.GeoResult{}), history: first, score: 100},
		{name: "blocked country", settings: blockRU, attempt: attempt(moscow), history: first,
			score: 100, action: sm.ActionBlock, block: "geofence", trig: fenced},
		{name: "blocked country in lower case settings", settings: blockLower, attempt: attempt(moscow), history: first,
			score: 100, action: sm.ActionBlock, block: "geofence", trig: fenced},
		{name: "other country not blocked", settings: blockRU, attempt: attempt(paris), history: first, score: 100},
		{name: "geofence alert only", settings: alertOnly, attempt: attempt(moscow), history: first,
			score: 100, action: sm.ActionAlert, trig: map[string]sm.Action{"geofence": sm.ActionAlert}},
		{name: "geofence named before tor", settings: blockRU, attempt: attempt(withThreat(moscow, sm.Threat{Tor: true})), history: first,
			reasons: "tor:60", score: 40, action: sm.ActionBlock, block: "geofence",
			trig: map[string]sm.Action{"geofence": sm.ActionBlock, "tor": sm.ActionBlock}},
	})
}

func TestFenced(t *testing.T) {
	s := settingsWith(func(s *sm.Settings) {
		s.AllowedCountries = []string{"DE"}
		s.BlockedCountries = []string{"DE"} // refused by NormalizeSettings; block wins here
	})
	tests := []struct {
		name     string
		settings *sm.Settings
		country  string
		local    bool
		refused  bool
		detail   string
	}{
		{"nil settings", nil, "KP", false, false, ""},
		{"local is never fenced", s, "", true, false, ""},
		{"local with a country is never fenced", s, "FR", true, false, ""},
		{"blocked wins over allowed", s, "DE", false, true, "DE is a blocked country"},
		{"not allowed", s, "FR", false, true, "FR is not an allowed country"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refused, detail := Fenced(tc.settings, tc.country, tc.local)
			if refused != tc.refused || detail != tc.detail {
				t.Errorf("Fenced = %v %q, want %v %q", refused, detail, tc.refused, tc.detail)
			}
		})
	}
}

func TestAssessPolicy(t *testing.T) {
	h := history(time.Hour)
	vpnDC := attempt(withThreat(berlin, sm.Threat{VPN: true, Datacenter: true}))
	runAssess(t, []assessCase{
		{name: "nil settings are the defaults", attempt: attempt(withThreat(berlin, sm.Threat{VPN: true})), history: h,
			reasons: "vpn:30", score: 70, action: sm.ActionAlert, trig: map[string]sm.Action{"vpn": sm.ActionAlert}},
		{name: "vpn set to block", settings: settingsWith(func(s *sm.Settings) { s.Actions.VPN = sm.ActionBlock }),
			attempt: vpnDC, history: h, reasons: "vpn:30,datacenter:20", score: 50, action: sm.ActionBlock, block: "vpn",
			trig: map[string]sm.Action{"vpn": sm.ActionBlock, "datacenter": sm.ActionAllow}},
		{name: "vpn and datacenter block: vpn named", settings: settingsWith(func(s *sm.Settings) {
			s.Actions.VPN, s.Actions.Datacenter = sm.ActionBlock, sm.ActionBlock
		}), attempt: vpnDC, history: h, reasons: "vpn:30,datacenter:20", score: 50, action: sm.ActionBlock, block: "vpn",
			trig: map[string]sm.Action{"vpn": sm.ActionBlock, "datacenter": sm.ActionBlock}},
		{name: "tor allowed", settings: settingsWith(func(s *sm.Settings) { s.Actions.Tor = sm.ActionAllow }),
			attempt: attempt(withThreat(berlin, sm.Threat{Tor: true})), history: h,
			reasons: "tor:60", score: 40, trig: map[string]sm.Action{"tor": sm.ActionAllow}},
		{name: "empty action falls back to default (tor blocks)", settings: settingsWith(func(s *sm.Settings) { s.Actions.Tor = "" }),
			attempt: attempt(withThreat(berlin, sm.Threat{Tor: true})), history: h,
			reasons: "tor:60", score: 40, action: sm.ActionBlock, block: "tor", trig: map[string]sm.Action{"tor": sm.ActionBlock}},
		{name: "low score blocks", settings: settingsWith(func(s *sm.Settings) { s.Actions.LowScore = sm.ActionBlock; s.ScoreThreshold = 60 }),
			attempt: vpnDC, history: h, reasons: "vpn:30,datacenter:20", score: 50, action: sm.ActionBlock, block: "low_score",
			trig: map[string]sm.Action{"vpn": sm.ActionAlert, "datacenter": sm.ActionAllow, "low_score": sm.ActionBlock}},
		{name: "threshold equal to score is not low", settings: settingsWith(func(s *sm.Settings) { s.ScoreThreshold = 80 }),
			attempt: attempt(withThreat(berlin, sm.Threat{Datacenter: true})), history: h,
			reasons: "datacenter:20", score: 80, trig: map[string]sm.Action{"datacenter": sm.ActionAllow}},
		{name: "threshold one above the score is low", settings: settingsWith(func(s *sm.Settings) { s.ScoreThreshold = 81 }),
			attempt: attempt(withThreat(berlin, sm.Threat{Datacenter: true})), history: h,
			reasons: "datacenter:20", score: 80, action: sm.ActionAlert,
			trig: map[string]sm.Action{"datacenter": sm.ActionAllow, "low_score": sm.ActionAlert}},
		{name: "threshold 0 never fires", settings: settingsWith(func(s *sm.Settings) { s.ScoreThreshold = 0 }),
			attempt: attempt(withThreat(berlin, sm.Threat{Tor: true, KnownThreat: true})), history: h,
			reasons: "tor:60,known_threat:60", score: 0, action: sm.ActionBlock, block: "tor",
			trig: map[string]sm.Action{"tor": sm.ActionBlock, "known_threat": sm.ActionBlock}},
	})
}

func TestAssessWeights(t *testing.T) {
	h := history(24 * time.Hour)
	firefoxTokyo := attempt(tokyo)
	firefoxTokyo.Device = winFirefox
	runAssess(t, []assessCase{
		{name: "override raises a weight and reorders", settings: settingsWith(func(s *sm.Settings) { s.Weights = map[string]int{"new_device": 70} }),
			attempt: firefoxTokyo, history: h, reasons: "new_device:70,new_country:20", score: 10, action: sm.ActionAlert,
			trig: map[string]sm.Action{"low_score": sm.ActionAlert}},
		{name: "weight 0 keeps the reason, not the cost", settings: settingsWith(func(s *sm.Settings) { s.Weights = map[string]int{"new_country": 0} }),
			attempt: firefoxTokyo, history: h, reasons: "new_device:10,new_country:0", score: 90},
		{name: "equal weights keep signal order", settings: settingsWith(func(s *sm.Settings) { s.Weights = map[string]int{"new_device": 20} }),
			attempt: firefoxTokyo, history: h, reasons: "new_country:20,new_device:20", score: 60},
		{name: "negative weight counts as 0", settings: settingsWith(func(s *sm.Settings) { s.Weights = map[string]int{"new_device": -50} }),
			attempt: firefoxTokyo, history: h, reasons: "new_country:20,new_device:0", score: 80},
		{name: "weight above 100 counts as 100", settings: settingsWith(func(s *sm.Settings) { s.Weights = map[string]int{"new_device": 1000} }),
			attempt: firefoxTokyo, history: h, reasons: "new_device:100,new_country:20", score: 0, action: sm.ActionAlert,
			trig: map[string]sm.Action{"low_score": sm.ActionAlert}},
		{name: "unknown codes ignored", settings: settingsWith(func(s *sm.Settings) { s.Weights = map[string]int{"bogus": 90} }),
			attempt: firefoxTokyo, history: h, reasons: "new_country:20,new_device:10", score: 70},
	})
}

func TestDefaultWeightsCoverEverySignal(t *testing.T) {
	if len(SignalCodes) != numSignals || len(DefaultWeights) != numSignals {
		t.Fatalf("SignalCodes %d, DefaultWeights %d, numSignals %d", len(SignalCodes), len(DefaultWeights), numSignals)
	}
	for i, code := range SignalCodes {
		if _, ok := DefaultWeights[code]; !ok {
			t.Errorf("no default weight for %s", code)
		}
		if i > 0 && DefaultWeights[code] > DefaultWeights[SignalCodes[i-1]] {
			t.Errorf("SignalCodes not in descending default weight at %s", code)
		}
	}
}

func TestReasonDetails(t *testing.T) {
	h := history(70 * time.Minute)
	h.FailedForAccount, h.FailedForIP = 1234, 25
	a := attempt(withThreat(sydney, sm.Threat{Datacenter: true, Proxy: true}))
	a.Device = winFirefox
	got := Engine{}.Assess(nil, a, h)
	want := map[string]string{
		"proxy":         "public proxy (Example Telecom)",
		"datacenter":    "hosting or datacenter network (Example Telecom)",
		"new_country":   "first login from Australia",
		"new_device":    "first login with Firefox on Windows",
		"failed_logins": "1,234 failed logins for this account and 25 from this address in the last 15m",
	}
	if len(got.Reasons) != len(want) {
		t.Fatalf("reasons = %+v", got.Reasons)
	}
	for _, r := range got.Reasons {
		if r.Detail != want[r.Code] {
			t.Errorf("%s detail = %q, want %q", r.Code, r.Detail, want[r.Code])
		}
	}

	vpnASN := withThreat(tokyo, sm.Threat{VPN: true, Tor: true, KnownThreat: true})
	vpnASN.Location.ISP, vpnASN.Location.CountryName = "", ""
	got = Engine{}.Assess(nil, attempt(vpnASN), history(time.Hour))
	want = map[string]string{
		"tor":          "Tor exit node",
		"known_threat": "address is on a threat list",
		"vpn":          "VPN (AS64500)",
		"new_country":  "first login from Japan", // from the country table
	}
	for _, r := range got.Reasons {
		if r.Detail != want[r.Code] {
			t.Errorf("%s detail = %q, want %q", r.Code, r.Detail, want[r.Code])
		}
	}
}

func TestTravelDetail(t *testing.T) {
	coordsOnly := sm.GeoResult{Found: true, Location: sm.Location{Latitude: -33.8688, Longitude: 151.2093, HasCoordinates: true}}
	countryOnly := sm.GeoResult{Found: true, Location: sm.Location{CountryCode: "AU", Latitude: -33.8688, Longitude: 151.2093, HasCoordinates: true}}
	tests := []struct {
		name    string
		to      sm.GeoResult
		ago     time.Duration
		history []string
		want    string
	}{
		{"city to city", sydney, 70 * time.Minute, []string{"DE", "AU"}, "Berlin, DE -> Sydney, AU: 16,095 km in 1h 10m (13,795 km/h)"},
		{"same instant", sydney, 0, []string{"DE", "AU"}, "Berlin, DE -> Sydney, AU: 16,095 km at the same time"},
		{"seconds", paris, 45 * time.Second, []string{"DE", "FR"}, "Berlin, DE -> Paris, FR: 877 km in 45s (70,197 km/h)"},
		{"whole hours", sydney, 10 * time.Hour, []string{"DE", "AU"}, "Berlin, DE -> Sydney, AU: 16,095 km in 10h (1,609 km/h)"},
		{"coordinates only", coordsOnly, time.Hour, []string{"DE"}, "Berlin, DE -> -33.87,151.21: 16,095 km in 1h (16,095 km/h)"},
		{"country only", countryOnly, time.Hour, []string{"DE", "AU"}, "Berlin, DE -> Australia: 16,095 km in 1h (16,095 km/h)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := history(tc.ago)
			h.Countries = tc.history
			got := Engine{}.Assess(nil, attempt(tc.to), h)
			if len(got.Reasons) == 0 || got.Reasons[0].Code != sm.ReasonImpossibleTravel {
				t.Fatalf("reasons = %+v", got.Reasons)
			}
			if got.Reasons[0].Detail != tc.want {
				t.Errorf("detail = %q, want %q", got.Reasons[0].Detail, tc.want)
			}
		})
	}
}

func TestAssessGeoFailureCaseInsensitive(t *testing.T) {
	s := settingsWith(func(s *sm.Settings) { s.GeoLookupFailure = "BLOCK" }) // not normalised
	a := attempt(berlin)
	a.GeoErr = errors.New("lookup failed")
	if got := (Engine{}).Assess(s, a, history(time.Hour)); got.BlockReason != sm.ReasonGeoLookupFailed {
		t.Errorf("assessment = %+v", got)
	}
}

// TestBlockPrecedence fires every pair of blocking conditions and checks
// that the one earlier in BlockPrecedence names the block.
func TestBlockPrecedence(t *testing.T) {
	s := settingsWith(func(s *sm.Settings) {
		s.Actions = sm.Actions{VPN: "block", Proxy: "block", Tor: "block", Datacenter: "block", Threat: "block", Geofence: "block", LowScore: "block", NewCountry: "block", NewDevice: "block"}
		s.GeoLookupFailure = "block"
		s.BlockedCountries = []string{"RU"}
		s.ScoreThreshold = 101 // low_score fires on every login
	})
	with := func(a *sm.LoginAttempt, code string) {
		switch code {
		case sm.ReasonGeoLookupFailed:
			a.GeoErr = errors.New("lookup failed")
		case sm.ReasonGeofence:
			a.Geo.Location.CountryCode = "RU"
		case sm.ReasonTor:
			a.Geo.Threat.Tor = true
		case sm.ReasonKnownThreat:
			a.Geo.Threat.KnownThreat = true
		case sm.ReasonProxy:
			a.Geo.Threat.Proxy = true
		case sm.ReasonVPN:
			a.Geo.Threat.VPN = true
		case sm.ReasonDatacenter:
			a.Geo.Threat.Datacenter = true
		case sm.ReasonNewCountry:
			if a.Geo.Location.CountryCode == "DE" {
				a.Geo.Location.CountryCode = "FR"
			}
		case sm.ReasonNewDevice:
			a.Device = winFirefox
		}
	}
	for i, first := range BlockPrecedence {
		for _, second := range BlockPrecedence[i:] {
			a := attempt(berlin)
			with(&a, second) // set the later one first: order of setting must not matter
			with(&a, first)
			got := Engine{}.Assess(s, a, history(time.Hour))
			if got.Action != sm.ActionBlock || got.BlockReason != first {
				t.Errorf("%s + %s: action %q, blockReason %q; want block by %s", first, second, got.Action, got.BlockReason, first)
			}
			if got.Triggered[first] != sm.ActionBlock {
				t.Errorf("%s + %s: triggered = %v", first, second, got.Triggered)
			}
		}
	}
}

func TestNewDeviceDetailWithoutOS(t *testing.T) {
	a := attempt(berlin)
	a.Device = sm.Device{Type: "mobile", Browser: "Opera"}
	got := Engine{}.Assess(nil, a, history(time.Hour))
	if len(got.Reasons) != 1 || got.Reasons[0].Detail != "first login with Opera" {
		t.Errorf("reasons = %+v", got.Reasons)
	}
}

// TestChallengePolicy: challenge sits between block and alert, names its
// first condition, and new_country / new_device act only when set.
func TestChallengePolicy(t *testing.T) {
	vpn := withThreat(berlin, sm.Threat{VPN: true})
	s := settingsWith(func(s *sm.Settings) { s.Actions.VPN = sm.ActionChallenge })
	got := Engine{}.Assess(s, attempt(vpn), history(time.Hour))
	if got.Action != sm.ActionChallenge || got.ChallengeReason != sm.ReasonVPN || got.Triggered[sm.ReasonVPN] != sm.ActionChallenge {
		t.Errorf("vpn challenge: %+v", got)
	}
	// A block wins over a challenge; the challenge is still named.
	tor := withThreat(berlin, sm.Threat{VPN: true, Tor: true})
	got = Engine{}.Assess(s, attempt(tor), history(time.Hour))
	if got.Action != sm.ActionBlock || got.BlockReason != sm.ReasonTor || got.ChallengeReason != sm.ReasonVPN {
		t.Errorf("tor + vpn challenge: %+v", got)
	}
	// A challenge wins over an alert.
	proxy := withThreat(berlin, sm.Threat{VPN: true, Proxy: true})
	got = Engine{}.Assess(s, attempt(proxy), history(time.Hour))
	if got.Action != sm.ActionChallenge || got.Triggered[sm.ReasonProxy] != sm.ActionAlert {
		t.Errorf("proxy alert + vpn challenge: %+v", got)
	}
	// new_device: a condition only with an action set, and only when the signal fired.
	a := attempt(berlin)
	a.Device = winFirefox
	if got := (Engine{}).Assess(sm.DefaultSettings(), a, history(time.Hour)); got.Action != sm.ActionAllow || got.Triggered != nil {
		t.Errorf("new device, default policy: %+v", got)
	}
	nd := settingsWith(func(s *sm.Settings) { s.Actions.NewDevice = sm.ActionChallenge })
	if got := (Engine{}).Assess(nd, a, history(time.Hour)); got.Action != sm.ActionChallenge || got.ChallengeReason != sm.ReasonNewDevice {
		t.Errorf("new device challenged: %+v", got)
	}
	if got := (Engine{}).Assess(nd, attempt(berlin), history(time.Hour)); got.Action != sm.ActionAllow {
		t.Errorf("known device: %+v", got)
	}
	nc := settingsWith(func(s *sm.Settings) { s.Actions.NewCountry = sm.ActionBlock })
	if got := (Engine{}).Assess(nc, attempt(paris), history(10*time.Hour)); got.Action != sm.ActionBlock || got.BlockReason != sm.ReasonNewCountry {
		t.Errorf("new country blocked: %+v", got)
	}
}
