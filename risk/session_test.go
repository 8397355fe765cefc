package risk_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/risk"
)

// Places for the session-time table: two networks of one German carrier,
// another German ISP, Japan, and VPN exits of one provider.
var (
	t0       = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	chrome   = sm.Device{Type: "desktop", Browser: "Chrome", BrowserVersion: "120", OS: "macOS"}
	chrome2  = sm.Device{Type: "desktop", Browser: "Chrome", BrowserVersion: "121", OS: "macOS"}
	firefox  = sm.Device{Type: "desktop", Browser: "Firefox", OS: "Windows"}
	unknown  = sm.Device{Type: "unknown"}
	goClient = sm.Device{Type: "bot", Browser: "Go-http-client"}
	berlinT1 = place("198.51.100.10", "DE", 52.52, 13.40, 3320, sm.Threat{})
	berlinT2 = place("198.51.100.99", "DE", 52.52, 13.40, 3320, sm.Threat{})
	munichO2 = place("203.0.113.7", "DE", 48.14, 11.58, 6805, sm.Threat{})
	tokyo    = place("192.0.2.44", "JP", 35.68, 139.69, 2516, sm.Threat{})
	vpnNL    = place("192.0.2.200", "NL", 52.37, 4.90, 9009, sm.Threat{VPN: true})
	vpnUS    = place("192.0.2.201", "US", 40.71, -74.0, 9009, sm.Threat{VPN: true})
	torExit  = place("192.0.2.250", "SE", 59.33, 18.07, 1299, sm.Threat{Tor: true})
	homeLAN  = sm.SessionPlace{IP: netip.MustParseAddr("192.168.1.20"), Location: sm.Location{Local: true}}
)

func place(ip, cc string, lat, lon float64, asn uint32, t sm.Threat) sm.SessionPlace {
	return sm.SessionPlace{IP: netip.MustParseAddr(ip), Threat: t,
		Location: sm.Location{CountryCode: cc, Latitude: lat, Longitude: lon, HasCoordinates: true, ASN: asn}}
}

func at(p sm.SessionPlace, d sm.Device, after time.Duration) sm.SessionPlace {
	p.Device, p.At = d, t0.Add(after)
	return p
}

func TestJudgeSession(t *testing.T) {
	vpnBlocked := sm.DefaultSettings()
	vpnBlocked.Actions.VPN = sm.ActionBlock
	allAllow := sm.DefaultSettings()
	allAllow.SessionActions = sm.SessionActions{IPChange: sm.ActionAllow, CountryChange: sm.ActionAllow, ImpossibleTravel: sm.ActionAllow,
		DeviceChange: sm.ActionAllow, DeviceChangeOnRefresh: sm.ActionAllow, RefreshAnomaly: sm.ActionAllow}
	cases := []struct {
		name       string
		settings   *sm.Settings
		move       sm.SessionMove
		wantAction sm.Action
		want       []string // signals, strongest action first
	}{
		{"same place, new browser version", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, chrome2, time.Minute)}, sm.ActionAllow, nil},
		{"phone between two cells of one carrier", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT2, chrome, time.Minute)}, sm.ActionAllow, nil},
		{"another ISP in the same country, two hours later", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(munichO2, chrome, 2*time.Hour)}, sm.ActionAllow, nil},
		{"Berlin to Tokyo in ten minutes", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(tokyo, chrome, 10*time.Minute)}, sm.ActionAlert,
			[]string{sm.ReasonSessionImpossibleTravel, sm.ReasonSessionCountryChange, sm.ReasonSessionIPChange}},
		{"Berlin to Tokyo in a day: a country change, no travel", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(tokyo, chrome, 24*time.Hour)}, sm.ActionAlert,
			[]string{sm.ReasonSessionCountryChange, sm.ReasonSessionIPChange}},
		{"device family changes on a request", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, firefox, time.Minute)}, sm.ActionAlert,
			[]string{sm.ReasonSessionDeviceChange}},
		{"device family changes on a refresh", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, firefox, time.Minute), Refresh: true}, sm.ActionTerminate,
			[]string{sm.ReasonSessionDeviceChange}},
		{"replayed refresh: other device and country", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(tokyo, firefox, time.Minute), Refresh: true}, sm.ActionTerminate,
			[]string{sm.ReasonSessionDeviceChange, sm.ReasonSessionImpossibleTravel, sm.ReasonSessionCountryChange, sm.ReasonSessionIPChange}},
		{"a refresh by an HTTP library after a browser is no device change", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, goClient, time.Minute), Refresh: true}, sm.ActionAllow, nil},
		{"an unknown user agent is no device change", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, unknown, time.Minute), Refresh: true}, sm.ActionAllow, nil},
		{"onto a VPN: judged by the VPN rule (alert), not as travel", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(vpnUS, chrome, time.Minute)}, sm.ActionAlert,
			[]string{sm.ReasonSessionIPChange}},
		{"onto a VPN with actions.vpn block: terminate", vpnBlocked,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(vpnUS, chrome, time.Minute)}, sm.ActionTerminate,
			[]string{sm.ReasonSessionIPChange}},
		{"between two exits of one VPN provider", vpnBlocked,
			sm.SessionMove{From: at(vpnNL, chrome, 0), To: at(vpnUS, chrome, time.Minute)}, sm.ActionAllow, nil},
		{"off the VPN, home again", nil,
			sm.SessionMove{From: at(vpnUS, chrome, 0), To: at(berlinT1, chrome, time.Minute)}, sm.ActionAllow, nil},
		{"onto Tor: the Tor rule blocks, so terminate", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(torExit, chrome, time.Minute)}, sm.ActionTerminate,
			[]string{sm.ReasonSessionIPChange}},
		{"from the local network: no place to compare", nil,
			sm.SessionMove{From: at(homeLAN, chrome, 0), To: at(tokyo, chrome, time.Minute)}, sm.ActionAllow, nil},
		{"six refreshes in a minute: allowed", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, chrome, time.Second), Refresh: true, Refreshes: 6}, sm.ActionAllow, nil},
		{"seven refreshes in a minute: refresh_anomaly", nil,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, chrome, time.Second), Refresh: true, Refreshes: 7}, sm.ActionAlert,
			[]string{sm.ReasonRefreshAnomaly}},
		{"every action allow: signals still listed", allAllow,
			sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(tokyo, firefox, time.Minute), Refresh: true}, sm.ActionAllow,
			[]string{sm.ReasonSessionDeviceChange, sm.ReasonSessionImpossibleTravel, sm.ReasonSessionCountryChange, sm.ReasonSessionIPChange}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := risk.New().JudgeSession(c.settings, c.move)
			var got []string
			for _, r := range v.Signals {
				got = append(got, r.Code)
				if r.Detail == "" {
					t.Errorf("%s has no detail", r.Code)
				}
			}
			if v.Action != c.wantAction || !slices.Equal(got, c.want) {
				t.Fatalf("got %s %v, want %s %v", v.Action, got, c.wantAction, c.want)
			}
			if len(got) > 0 && v.Reason != got[0] {
				t.Errorf("reason %q, want the first signal %q", v.Reason, got[0])
			}
		})
	}
}

// TestJudgeSessionFacts: the verdict carries the distance and speed the
// event and the alert show.
func TestJudgeSessionFacts(t *testing.T) {
	v := risk.New().JudgeSession(nil, sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(tokyo, chrome, time.Hour)})
	if v.DistanceKM < 8800 || v.DistanceKM > 9100 || v.SpeedKMH != v.DistanceKM {
		t.Fatalf("distance %v km, speed %v km/h", v.DistanceKM, v.SpeedKMH)
	}
}

// TestJudgeSessionNeverPanics: zero and odd moves answer allow.
func TestJudgeSessionNeverPanics(t *testing.T) {
	bad := sm.DefaultSettings()
	bad.SessionActions.DeviceChange = "explode"
	bad.ImpossibleTravelKMH = -1
	for _, mv := range []sm.SessionMove{
		{},
		{From: sm.SessionPlace{Location: sm.Location{HasCoordinates: true, Latitude: 400}}, To: at(tokyo, chrome, 0)},
		{From: at(berlinT1, chrome, time.Hour), To: at(tokyo, chrome, 0)}, // clock skew
	} {
		_ = risk.New().JudgeSession(bad, mv)
	}
	// An invalid stored action falls back to its default, never to allow.
	v := risk.New().JudgeSession(bad, sm.SessionMove{From: at(berlinT1, chrome, 0), To: at(berlinT1, firefox, time.Minute)})
	if v.Action != sm.DefaultSessionActions.DeviceChange {
		t.Fatalf("invalid action answered %s", v.Action)
	}
}
