package geo

import (
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The country table lives in the root package (countries.go); its tests
// live here, next to its main user.

func TestCountryTable(t *testing.T) {
	cases := []struct {
		code, name, flag string
		ok               bool
	}{
		{"DE", "Germany", "🇩🇪", true},
		{"de", "Germany", "🇩🇪", true},
		{"uS", "United States", "🇺🇸", true},
		{"GB", "United Kingdom", "🇬🇧", true},
		{"KR", "South Korea", "🇰🇷", true},
		{"AX", "Åland Islands", "🇦🇽", true},
		{"ZW", "Zimbabwe", "🇿🇼", true},
		{"AQ", "Antarctica", "🇦🇶", true},
		{"XK", "", "", false}, // Kosovo: user-assigned, not ISO 3166-1
		{"UK", "", "", false}, // exceptionally reserved, not assigned
		{"ZZ", "", "", false},
		{"", "", "", false},
		{"D", "", "", false},
		{"DEU", "", "", false},
		{"1A", "", "", false},
		{"D\xff", "", "", false},
	}
	for _, tc := range cases {
		name, ok := sm.CountryName(tc.code)
		if name != tc.name || ok != tc.ok || sm.ValidCountry(tc.code) != tc.ok || sm.FlagEmoji(tc.code) != tc.flag {
			t.Errorf("%q: name %q ok %v valid %v flag %q; want %q %v %q", tc.code, name, ok,
				sm.ValidCountry(tc.code), sm.FlagEmoji(tc.code), tc.name, tc.ok, tc.flag)
		}
	}
}

func TestCountries(t *testing.T) {
	all := sm.Countries()
	if len(all) != 249 {
		t.Fatalf("%d countries, want 249", len(all))
	}
	seen := map[string]bool{}
	for i, c := range all {
		if seen[c.Code] || !sm.ValidCountry(c.Code) || c.Flag != sm.FlagEmoji(c.Code) || c.Name == "" {
			t.Errorf("bad entry %+v", c)
		}
		seen[c.Code] = true
		if i > 0 && all[i-1].Name[0] < 0x80 && all[i-1].Name[0] > c.Name[0] {
			t.Errorf("not sorted by name: %q before %q", all[i-1].Name, c.Name)
		}
	}
	// Accented names sort with their letter, not after Z.
	if all[1].Code != "AX" || all[len(all)-1].Code != "ZW" {
		t.Errorf("order: second %+v last %+v", all[1], all[len(all)-1])
	}
	all[0].Name = "changed"
	if sm.Countries()[0].Name == "changed" {
		t.Error("Countries shares its slice")
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"SM_GEOIP_DB":        " /data/city.mmdb, /data/asn.mmdb ,",
		"SM_ASN_CSV":         "/data/asn-ipv4.csv",
		"SM_TOR_EXITS":       "https://check.torproject.org/torbulkexitlist",
		"SM_THREAT_REFRESH":  "2h",
		"SM_GEOIP_CACHE_DIR": "/var/cache/sm",
	}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DBPaths) != 2 || cfg.DBPaths[1] != "/data/asn.mmdb" || len(cfg.ASNCSV) != 1 ||
		len(cfg.TorExits) != 1 || cfg.RefreshInterval.Hours() != 2 || cfg.CacheDir != "/var/cache/sm" || cfg.VPNRanges != nil {
		t.Errorf("cfg = %+v", cfg)
	}
	env["SM_THREAT_REFRESH"] = "often"
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); sm.ErrorCode(err) != sm.EINVALID {
		t.Errorf("bad duration: %v", err)
	}
}
