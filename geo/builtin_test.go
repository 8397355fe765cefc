package geo

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
)

// TestBuiltinOutOfTheBox: with no source configured, country, ASN and
// organisation come from the embedded snapshot, and the hosting ASN table
// flags a datacenter through the built-in ASN.
func TestBuiltinOutOfTheBox(t *testing.T) {
	r := openBuiltin(t, Config{})
	cases := []struct {
		ip, cc, name string
		asn          uint32
		isp          string
		dc           bool
	}{
		{"8.8.8.8", "US", "United States", 15169, "Google LLC", false},
		{"2001:4860:4860::8888", "US", "United States", 15169, "Google LLC", false},
		{"::ffff:8.8.8.8", "US", "United States", 15169, "Google LLC", false},
		{"5.9.0.1", "DE", "Germany", 24940, "Hetzner Online GmbH", true},
		{"2a01:4f8::1", "DE", "Germany", 24940, "Hetzner Online GmbH", true},
		{"133.242.0.1", "JP", "Japan", 7684, "SAKURA Internet Inc.", false},
		{"1.1.1.1", "AU", "Australia", 13335, "Cloudflare, Inc.", true},
		{"1.0.1.0", "CN", "China", 0, "", false}, // a country, no routed ASN
	}
	for _, tc := range cases {
		got := lookup(t, r, tc.ip)
		loc := got.Location
		if !got.Found || loc.CountryCode != tc.cc || loc.CountryName != tc.name || loc.Flag != sm.FlagEmoji(tc.cc) ||
			loc.ASN != tc.asn || loc.ISP != tc.isp || got.Threat.Datacenter != tc.dc {
			t.Errorf("%s = %+v, want %s %s AS%d %q dc=%v", tc.ip, got, tc.cc, tc.name, tc.asn, tc.isp, tc.dc)
		}
	}
	for _, ip := range []string{"10.1.2.3", "192.168.0.1", "127.0.0.1", "fd00::1", "100.64.0.1"} {
		if got := lookup(t, r, ip); got != (sm.GeoResult{Location: sm.Location{Local: true}}) {
			t.Errorf("%s = %+v, want Local only", ip, got)
		}
	}
	// Nothing in the snapshot (an unallocated /8 neighbour of the data):
	// not found, no error.
	if got := lookup(t, r, "ffff:ffff::1"); got.Found || got.Location.CountryCode != "" {
		t.Errorf("unallocated address = %+v, want not found", got)
	}
}

// TestBuiltinLayering: a configured source wins for each field it knows;
// the built-in data fills the fields it does not know, and the addresses it
// does not hold.
func TestBuiltinLayering(t *testing.T) {
	dir := t.TempDir()
	city := writeDB(t, dir, "city.mmdb", "GeoLite2-City", 6, map[string]mmdbtype.Map{
		// 8.8.8.0/24 placed in Germany with a city: country and city win,
		// the ASN (which a City database lacks) comes from the built-in data.
		"8.8.8.0/24": cityRec("DE", "Germany", "Hesse", "Frankfurt", 50.1, 8.7, "Europe/Berlin"),
	})
	asnDB := writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{
		"5.9.0.0/16": asnRec(64500, "Example Transit"),
	})
	csvPath := filepath.Join(dir, "asn.csv")
	if err := os.WriteFile(csvPath, []byte("133.242.0.0,133.242.255.255,64501,Example CSV\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openBuiltin(t, Config{DBPaths: []string{city, asnDB}, ASNCSV: []string{csvPath}})
	cases := []struct {
		ip, cc, city string
		asn          uint32
		isp          string
		dc           bool
	}{
		{"8.8.8.8", "DE", "Frankfurt", 15169, "Google LLC", false},     // country+city from mmdb, ASN built-in
		{"5.9.0.1", "DE", "", 64500, "Example Transit", false},         // ASN from mmdb (not a hosting ASN), country built-in
		{"133.242.0.1", "JP", "", 64501, "Example CSV", false},         // ASN from the CSV, country built-in
		{"2a01:4f8::1", "DE", "", 24940, "Hetzner Online GmbH", true},  // neither file knows it: all built-in
		{"2001:4860:4860::8888", "US", "", 15169, "Google LLC", false}, // same, IPv6
		{"1.1.1.1", "AU", "", 13335, "Cloudflare, Inc.", true},         // same, IPv4
		{"8.8.4.4", "US", "", 15169, "Google LLC", false},              // next to the mmdb's network
	}
	for _, tc := range cases {
		got := lookup(t, r, tc.ip)
		loc := got.Location
		if loc.CountryCode != tc.cc || loc.City != tc.city || loc.ASN != tc.asn || loc.ISP != tc.isp || got.Threat.Datacenter != tc.dc {
			t.Errorf("%s = %+v, want %s %q AS%d %q dc=%v", tc.ip, loc, tc.cc, tc.city, tc.asn, tc.isp, got.Threat.Datacenter)
		}
	}
}

// TestBuiltinOff: SM_GEO_BUILTIN=off leaves no data; a bad value is a
// configuration error naming the variable.
func TestBuiltinOff(t *testing.T) {
	for _, v := range []string{"off", "OFF", "false", "0"} {
		cfg, err := ConfigFromEnv(func(k string) string { return map[string]string{"SM_GEO_BUILTIN": v}[k] })
		if err != nil || !cfg.NoBuiltin {
			t.Fatalf("SM_GEO_BUILTIN=%s: NoBuiltin = %v, err %v", v, cfg.NoBuiltin, err)
		}
		r := openBuiltin(t, cfg)
		if got := lookup(t, r, "8.8.8.8"); got != (sm.GeoResult{}) {
			t.Errorf("SM_GEO_BUILTIN=%s: 8.8.8.8 = %+v, want nothing", v, got)
		}
	}
	for _, v := range []string{"", "on", "true", "1"} {
		cfg, err := ConfigFromEnv(func(k string) string { return map[string]string{"SM_GEO_BUILTIN": v}[k] })
		if err != nil || cfg.NoBuiltin {
			t.Fatalf("SM_GEO_BUILTIN=%q: NoBuiltin = %v, err %v", v, cfg.NoBuiltin, err)
		}
	}
	_, err := ConfigFromEnv(func(k string) string { return map[string]string{"SM_GEO_BUILTIN": "maybe"}[k] })
	var e *sm.Error
	if !errors.As(err, &e) || e.Code != sm.EINVALID || e.Fields["SM_GEO_BUILTIN"] == "" {
		t.Errorf("SM_GEO_BUILTIN=maybe: err = %v, want EINVALID naming the variable", err)
	}
}

// TestGeoStatusBuiltin: the built-in sources are listed with their date,
// counts, licence and attribution, on or off.
func TestGeoStatusBuiltin(t *testing.T) {
	st := openBuiltin(t, Config{}).GeoStatus()
	byName := map[string]sm.GeoSource{}
	for _, s := range st.Sources {
		byName[s.Name] = s
	}
	c, a, h := byName[SourceBuiltinCountry], byName[SourceBuiltinASN], byName[SourceHostingASN]
	if !c.Enabled || c.Origin != "builtin" || c.Records < 500_000 || c.DataDate.Format("2006-01-02") != "2026-06-17" ||
		!strings.Contains(c.Format, "@ip-location-db/geo-whois-asn-country@2.3.2026061719") ||
		!strings.Contains(c.License, "CC0") || !strings.Contains(c.Attribution, "nro.net") || !slices.Equal(c.Provides, []string{sm.GeoCountry}) {
		t.Errorf("builtin-country = %+v", c)
	}
	if !a.Enabled || a.Records < 450_000 || !a.DataDate.Equal(c.DataDate) || a.AttributionURL != "https://db-ip.com" ||
		!strings.Contains(a.License, "CC BY 4.0") || !strings.Contains(a.Attribution, "DB-IP") || !slices.Equal(a.Provides, []string{sm.GeoASN}) {
		t.Errorf("builtin-asn = %+v", a)
	}
	if !h.Enabled || h.Records != len(knownASNs) {
		t.Errorf("hosting ASN table = %+v", h)
	}
	for c, want := range map[string]bool{sm.GeoCountry: true, sm.GeoASN: true, sm.GeoDatacenter: true, sm.GeoCity: false, sm.GeoTor: false} {
		if st.Has(c) != want {
			t.Errorf("capability %s = %v, want %v", c, st.Has(c), want)
		}
	}

	// Configured files list what their layout provides.
	dir := t.TempDir()
	city := writeDB(t, dir, "city.mmdb", "GeoLite2-City", 6, map[string]mmdbtype.Map{"8.8.8.0/24": cityRec("US", "United States", "", "", 1, 2, "")})
	country := writeDB(t, dir, "country.mmdb", "geo-whois-asn-country-ipv4", 4, map[string]mmdbtype.Map{"8.8.8.0/24": flatRec("US", "", "", 0, 0, "")})
	r := openBuiltin(t, Config{DBPaths: []string{city, country}})
	if got := source(t, r, city).Provides; !slices.Equal(got, []string{sm.GeoCountry, sm.GeoCity}) {
		t.Errorf("city database provides %v", got)
	}
	if got := source(t, r, country).Provides; !slices.Equal(got, []string{sm.GeoCountry}) {
		t.Errorf("ip-location-db country database provides %v", got)
	}
	if st := r.GeoStatus(); !st.Has(sm.GeoCity) {
		t.Errorf("capabilities with a City database: %v", st.Capabilities)
	}

	off := openResolver(t, Config{}).GeoStatus()
	if len(off.Sources) != 3 {
		t.Fatalf("off: sources = %+v, want the three built-in ones listed", off.Sources)
	}
	for _, s := range off.Sources {
		if s.Enabled {
			t.Errorf("off: %s enabled", s.Name)
		}
	}
	if off.Has(sm.GeoCountry) || off.Has(sm.GeoASN) || off.Has(sm.GeoDatacenter) {
		t.Errorf("off: capabilities = %v", off.Capabilities)
	}
}

// TestGeoStatusDBIPFileLicence: a DB-IP Lite file, whose type also names
// the GeoLite2 layout it copies, is listed with DB-IP's licence and link,
// and a GeoLite2 file with MaxMind's.
func TestGeoStatusDBIPFileLicence(t *testing.T) {
	dir := t.TempDir()
	dbip := writeDB(t, dir, "dbip-asn.mmdb", "DBIP-ASN-Lite (compat=GeoLite2-ASN)", 6, map[string]mmdbtype.Map{"81.2.69.0/24": geotest.ASNRec(2856, "BT")})
	lite := writeDB(t, dir, "geolite-asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"81.2.69.0/24": geotest.ASNRec(2856, "BT")})
	st := openBuiltin(t, Config{DBPaths: []string{dbip, lite}, NoBuiltin: true}).GeoStatus()
	got := map[string]sm.GeoSource{}
	for _, s := range st.Sources {
		got[filepath.Base(s.Origin)] = s
	}
	if s := got["dbip-asn.mmdb"]; s.License != "CC BY 4.0" || s.AttributionURL != "https://db-ip.com" {
		t.Errorf("DB-IP Lite file = %+v", s)
	}
	if s := got["geolite-asn.mmdb"]; !strings.Contains(s.License, "GeoLite2") || s.AttributionURL != "https://www.maxmind.com" {
		t.Errorf("GeoLite2 file = %+v", s)
	}
}
