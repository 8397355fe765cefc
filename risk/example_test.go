package risk_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/risk"
)

// The worked example of docs/RISK.md: a user of Berlin signs in from
// Sydney 70 minutes after their last activity, with a new browser, while
// only DE, AT and CH are allowed.
func ExampleEngine_Assess() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	settings := sm.DefaultSettings()
	settings.AllowedCountries = []string{"DE", "AT", "CH"}

	previous := &sm.Session{
		CreatedAt:  now.Add(-3 * 24 * time.Hour),
		LastSeenAt: now.Add(-70 * time.Minute),
		IP:         netip.MustParseAddr("85.214.132.117"),
		Device:     sm.Device{Type: "desktop", Browser: "Chrome", OS: "macOS"},
		Location: sm.Location{CountryCode: "DE", CountryName: "Germany", City: "Berlin",
			Latitude: 52.52, Longitude: 13.405, HasCoordinates: true},
	}
	history := sm.LoginHistory{
		Countries:      []string{"DE"},
		DeviceFamilies: []string{"Chrome/macOS"},
		Previous:       previous,
	}
	attempt := sm.LoginAttempt{
		UserID: "u1",
		IP:     netip.MustParseAddr("1.144.110.23"),
		Device: sm.Device{Type: "desktop", Browser: "Firefox", OS: "Windows"},
		Geo: sm.GeoResult{Found: true, Location: sm.Location{CountryCode: "AU", CountryName: "Australia",
			City: "Sydney", Latitude: -33.8688, Longitude: 151.2093, HasCoordinates: true}},
		At: now,
	}

	out := risk.Engine{}.Assess(settings, attempt, history)
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "score": 20,
	//   "reasons": [
	//     {
	//       "code": "impossible_travel",
	//       "weight": 50,
	//       "detail": "Berlin, DE -\u003e Sydney, AU: 16,095 km in 1h 10m (13,795 km/h)"
	//     },
	//     {
	//       "code": "new_country",
	//       "weight": 20,
	//       "detail": "first login from Australia"
	//     },
	//     {
	//       "code": "new_device",
	//       "weight": 10,
	//       "detail": "first login with Firefox on Windows"
	//     }
	//   ],
	//   "action": "block",
	//   "triggered": {
	//     "geofence": "block",
	//     "low_score": "alert"
	//   },
	//   "blockReason": "geofence"
	// }
}
