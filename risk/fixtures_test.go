package risk

import (
	"net/netip"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// t0 is the instant of the login under test.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// place builds a found geo result for a city.
func place(city, cc, name string, lat, lon float64) sm.GeoResult {
	return sm.GeoResult{Found: true, Location: sm.Location{
		City: city, CountryCode: cc, CountryName: name,
		Latitude: lat, Longitude: lon, HasCoordinates: true,
		ISP: "Example Telecom", ASN: 64500,
	}}
}

var (
	berlin  = place("Berlin", "DE", "Germany", 52.52, 13.405)
	potsdam = place("Potsdam", "DE", "Germany", 52.3906, 13.0645)
	paris   = place("Paris", "FR", "France", 48.8566, 2.3522)
	tokyo   = place("Tokyo", "JP", "Japan", 35.6762, 139.6503)
	sydney  = place("Sydney", "AU", "Australia", -33.8688, 151.2093)
	suva    = place("Suva", "FJ", "Fiji", -18.1416, 178.4419)
	apia    = place("Apia", "WS", "Samoa", -13.8333, -171.7667)
)

var (
	macChrome  = sm.Device{Type: "desktop", Browser: "Chrome", OS: "macOS"}
	winFirefox = sm.Device{Type: "desktop", Browser: "Firefox", OS: "Windows"}
)

// withThreat returns g with threat flags set.
func withThreat(g sm.GeoResult, t sm.Threat) sm.GeoResult {
	g.Threat = t
	return g
}

// at returns g moved to the given coordinates.
func at(g sm.GeoResult, lat, lon float64) sm.GeoResult {
	g.Location.Latitude, g.Location.Longitude = lat, lon
	return g
}

// attempt is a login at t0 from g with Chrome on macOS.
func attempt(g sm.GeoResult) sm.LoginAttempt {
	return sm.LoginAttempt{
		UserID: "u1",
		IP:     netip.MustParseAddr("85.214.132.117"),
		Device: macChrome,
		Geo:    g,
		At:     t0,
	}
}

// prevSession is an earlier session from g, created two days before t0 and
// last seen lastSeenAgo before t0.
func prevSession(g sm.GeoResult, lastSeenAgo time.Duration) *sm.Session {
	return &sm.Session{
		ID:         "s0",
		UserID:     "u1",
		Status:     sm.StatusActive,
		CreatedAt:  t0.Add(-48 * time.Hour),
		LastSeenAt: t0.Add(-lastSeenAgo),
		IP:         netip.MustParseAddr("85.214.1.1"),
		Device:     macChrome,
		Location:   g.Location,
		Threat:     g.Threat,
	}
}

// history is a user who signed in from Berlin with Chrome on macOS, last
// seen lastSeenAgo before t0.
func history(lastSeenAgo time.Duration) sm.LoginHistory {
	return sm.LoginHistory{
		Countries:      []string{"DE"},
		DeviceFamilies: []string{macChrome.Family()},
		Previous:       prevSession(berlin, lastSeenAgo),
	}
}

// settingsWith returns the default settings changed by fn.
func settingsWith(fn func(*sm.Settings)) *sm.Settings {
	s := sm.DefaultSettings()
	if fn != nil {
		fn(s)
	}
	return s
}
