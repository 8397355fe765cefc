package risk

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestNormalizeSettingsDefaultsValid(t *testing.T) {
	s := sm.DefaultSettings()
	if errs := NormalizeSettings(s); errs != nil {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if errs := NormalizeSettings(nil); errs["settings"] == "" {
		t.Errorf("nil settings: %v", errs)
	}
}

func TestNormalizeSettingsErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*sm.Settings)
		want   map[string]string
	}{
		{"unknown allowed country", func(s *sm.Settings) { s.AllowedCountries = []string{"DE", "FR", "XX"} },
			map[string]string{"allowedCountries[2]": `"XX" is not an ISO 3166-1 alpha-2 country code`}},
		{"every bad blocked country", func(s *sm.Settings) { s.BlockedCountries = []string{"deu", "", "RU", "1A"} },
			map[string]string{
				"blockedCountries[0]": `"deu" is not an ISO 3166-1 alpha-2 country code`,
				"blockedCountries[1]": `"" is not an ISO 3166-1 alpha-2 country code`,
				"blockedCountries[3]": `"1A" is not an ISO 3166-1 alpha-2 country code`,
			}},
		{"allowed and blocked", func(s *sm.Settings) {
			s.AllowedCountries = []string{"DE", "AT"}
			s.BlockedCountries = []string{"RU", "at"}
		}, map[string]string{"blockedCountries[1]": `"AT" is also in allowedCountries`}},
		{"score threshold below", func(s *sm.Settings) { s.ScoreThreshold = -1 }, map[string]string{"scoreThreshold": "must be between 0 and 100"}},
		{"score threshold above", func(s *sm.Settings) { s.ScoreThreshold = 101 }, map[string]string{"scoreThreshold": "must be between 0 and 100"}},
		{"geo lookup failure", func(s *sm.Settings) { s.GeoLookupFailure = "alert" }, map[string]string{"geoLookupFailure": "must be allow or block"}},
		{"geo lookup failure empty", func(s *sm.Settings) { s.GeoLookupFailure = "" }, map[string]string{"geoLookupFailure": "must be allow or block"}},
		{"every action", func(s *sm.Settings) {
			s.Actions = sm.Actions{VPN: "deny", Proxy: "", Tor: "kill", Datacenter: "x", Threat: "warn", Geofence: "none", LowScore: "?"}
		}, map[string]string{
			"actions.vpn": "must be block, challenge, alert or allow", "actions.proxy": "must be block, challenge, alert or allow",
			"actions.tor": "must be block, challenge, alert or allow", "actions.datacenter": "must be block, challenge, alert or allow",
			"actions.threat": "must be block, challenge, alert or allow", "actions.geofence": "must be block, challenge, alert or allow",
			"actions.lowScore": "must be block, challenge, alert or allow",
		}},
		{"weights", func(s *sm.Settings) {
			s.Weights = map[string]int{"foo": 5, "tor": -1, "vpn": 101, "proxy": 100, "new_device": 0}
		},
			map[string]string{
				"weights.foo": "unknown reason code; one of tor, known_threat, impossible_travel, proxy, vpn, new_country, failed_logins, datacenter, new_device",
				"weights.tor": "must be between 0 and 100",
				"weights.vpn": "must be between 0 and 100",
			}},
		{"policy codes are not weights", func(s *sm.Settings) { s.Weights = map[string]int{"geofence": 10, "low_score": 10} },
			map[string]string{
				"weights.geofence":  "unknown reason code; one of tor, known_threat, impossible_travel, proxy, vpn, new_country, failed_logins, datacenter, new_device",
				"weights.low_score": "unknown reason code; one of tor, known_threat, impossible_travel, proxy, vpn, new_country, failed_logins, datacenter, new_device",
			}},
		{"impossible travel zero", func(s *sm.Settings) { s.ImpossibleTravelKMH = 0 }, map[string]string{"impossibleTravelKmh": "must be a number greater than 0"}},
		{"impossible travel negative", func(s *sm.Settings) { s.ImpossibleTravelKMH = -5 }, map[string]string{"impossibleTravelKmh": "must be a number greater than 0"}},
		{"impossible travel NaN", func(s *sm.Settings) { s.ImpossibleTravelKMH = math.NaN() }, map[string]string{"impossibleTravelKmh": "must be a number greater than 0"}},
		{"impossible travel infinite", func(s *sm.Settings) { s.ImpossibleTravelKMH = math.Inf(1) }, map[string]string{"impossibleTravelKmh": "must be a number greater than 0"}},
		{"travel floor negative", func(s *sm.Settings) { s.TravelMinDistanceKM = -1 }, map[string]string{"travelMinDistanceKm": "must be a number of at least 0"}},
		{"travel floor NaN", func(s *sm.Settings) { s.TravelMinDistanceKM = math.NaN() }, map[string]string{"travelMinDistanceKm": "must be a number of at least 0"}},
		{"failed logins account", func(s *sm.Settings) { s.FailedLoginsAccount = -1 }, map[string]string{"failedLoginsAccount": "must not be negative (0 turns it off)"}},
		{"failed logins ip", func(s *sm.Settings) { s.FailedLoginsIP = -1 }, map[string]string{"failedLoginsIp": "must not be negative (0 turns it off)"}},
		{"failed login window negative", func(s *sm.Settings) { s.FailedLoginWindow = sm.Duration(-time.Minute) }, map[string]string{"failedLoginWindow": "must not be negative"}},
		{"failed login window zero while counting", func(s *sm.Settings) { s.FailedLoginWindow = 0 },
			map[string]string{"failedLoginWindow": "must be positive while failedLoginsAccount or failedLoginsIp is set"}},
		{"max sessions", func(s *sm.Settings) { s.MaxSessionsPerUser = -1 }, map[string]string{"maxSessionsPerUser": "must not be negative (0 means no cap)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sm.DefaultSettings()
			tc.change(s)
			got := NormalizeSettings(s)
			if !maps.Equal(got, tc.want) {
				t.Errorf("errors = %v\nwant     %v", got, tc.want)
			}
		})
	}
}

func TestNormalizeSettingsReportsEveryField(t *testing.T) {
	s := &sm.Settings{ // the zero document: everything that has no valid zero is named
		AllowedCountries: []string{"ZZ"},
		ScoreThreshold:   -3,
		FailedLoginsIP:   -2,
	}
	got := NormalizeSettings(s)
	want := []string{
		"actions.datacenter", "actions.geofence", "actions.lowScore", "actions.proxy", "actions.threat",
		"actions.tor", "actions.vpn", "allowedCountries[0]", "failedLoginsIp", "geoLookupFailure",
		"impossibleTravelKmh", "scoreThreshold",
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("fields = %v\nwant     %v", keys, want)
	}
}

func TestNormalizeSettingsNormalises(t *testing.T) {
	s := sm.DefaultSettings()
	s.AllowedCountries = []string{" de", "at ", "DE", "De", "ch"}
	s.BlockedCountries = nil
	s.Weights = nil
	s.GeoLookupFailure = " Block "
	s.Actions.VPN = "BLOCK"
	s.Actions.LowScore = " Alert"
	s.FailedLoginWindow = 0
	s.FailedLoginsAccount, s.FailedLoginsIP = 0, 0 // a zero window is fine when counting is off
	if errs := NormalizeSettings(s); errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if want := []string{"DE", "AT", "CH"}; !slices.Equal(s.AllowedCountries, want) {
		t.Errorf("allowed = %q, want %q", s.AllowedCountries, want)
	}
	if s.BlockedCountries == nil || len(s.BlockedCountries) != 0 {
		t.Errorf("blocked = %#v, want empty non-nil", s.BlockedCountries)
	}
	if s.Weights == nil {
		t.Error("weights left nil")
	}
	if s.GeoLookupFailure != "block" || s.Actions.VPN != sm.ActionBlock || s.Actions.LowScore != sm.ActionAlert {
		t.Errorf("not lower-cased: %q %q %q", s.GeoLookupFailure, s.Actions.VPN, s.Actions.LowScore)
	}
	before := *s
	before.AllowedCountries = slices.Clone(s.AllowedCountries)
	if errs := NormalizeSettings(s); errs != nil || !slices.Equal(s.AllowedCountries, before.AllowedCountries) {
		t.Errorf("not idempotent: %v %q", errs, s.AllowedCountries)
	}
}

func TestNormalizeSettingsIndexesAreInputPositions(t *testing.T) {
	s := sm.DefaultSettings()
	s.AllowedCountries = []string{"de", "DE", "nope", "fr"}
	s.BlockedCountries = []string{"ru", "RU", "xx", "Fr"}
	errs := NormalizeSettings(s)
	want := map[string]string{
		"allowedCountries[2]": `"nope" is not an ISO 3166-1 alpha-2 country code`,
		"blockedCountries[2]": `"xx" is not an ISO 3166-1 alpha-2 country code`,
		"blockedCountries[3]": `"FR" is also in allowedCountries`,
	}
	if !maps.Equal(errs, want) {
		t.Errorf("errors = %v\nwant     %v", errs, want)
	}
}

func TestNormalizeSettingsASCIIOnly(t *testing.T) {
	s := sm.DefaultSettings()
	s.AllowedCountries = []string{"\u0131t"} // dotless i: not "IT"
	s.BlockedCountries = []string{"\u212Ar"} // Kelvin sign: not "KR"
	errs := NormalizeSettings(s)
	if errs["allowedCountries[0]"] == "" || errs["blockedCountries[0]"] == "" {
		t.Errorf("non-ASCII letters accepted: %v %q %q", errs, s.AllowedCountries, s.BlockedCountries)
	}
}
