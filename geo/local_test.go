package geo

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestLocalAddressesSkipLookup(t *testing.T) {
	// The database claims everything, so a Found answer would mean a lookup
	// was made for a local address.
	path := writeDB(t, t.TempDir(), "all.mmdb", "GeoLite2-Country", 6, map[string]mmdbtype.Map{
		"0.0.0.0/1":   {"country": mmdbtype.Map{"iso_code": mmdbtype.String("US")}},
		"128.0.0.0/1": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("US")}},
		"2000::/3":    {"country": mmdbtype.Map{"iso_code": mmdbtype.String("US")}},
	})
	r := openResolver(t, Config{DBPaths: []string{path}})
	local := []string{
		"10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.1.1", "100.64.0.1",
		"100.127.255.254", "192.0.2.1", "198.51.100.7", "203.0.113.9", "0.0.0.0", "224.0.0.1",
		"255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
		"2001:db8::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "fe80::1%eth0",
	}
	for _, ip := range local {
		got := lookup(t, r, ip)
		if got != (sm.GeoResult{Location: sm.Location{Local: true}}) {
			t.Errorf("%s = %+v, want Local only", ip, got)
		}
	}
	public := []string{"8.8.8.8", "100.128.0.1", "100.63.255.255", "192.0.3.1", "2001:4860::1", "::ffff:8.8.8.8"}
	for _, ip := range public {
		got := lookup(t, r, ip)
		if got.Location.Local || got.Location.CountryCode != "US" {
			t.Errorf("%s = %+v, want a US lookup", ip, got)
		}
	}
}

func TestNoDatabase(t *testing.T) {
	r := openResolver(t, Config{})
	got := lookup(t, r, "8.8.8.8")
	if got != (sm.GeoResult{}) {
		t.Errorf("no database and no built-in data: %+v, want zero", got)
	}
	if _, err := r.Lookup(context.Background(), netip.Addr{}); sm.ErrorCode(err) != sm.EINVALID {
		t.Errorf("invalid address: err = %v, want EINVALID", err)
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mmdb")
	if err := os.WriteFile(bad, []byte("this is not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeDB(t, dir, "good.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(1, "x")})
	truncated := filepath.Join(dir, "truncated.mmdb")
	data, _ := os.ReadFile(good)
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	csvBad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(csvBad, []byte("1.0.0.0,1.0.0.255,13335,x\nnot,an,address\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		file string
	}{
		{"missing db", Config{DBPaths: []string{filepath.Join(dir, "missing.mmdb")}}, "missing.mmdb"},
		{"not a db", Config{DBPaths: []string{good, bad}}, "bad.mmdb"},
		{"truncated db", Config{DBPaths: []string{truncated}}, "truncated.mmdb"},
		{"missing csv", Config{ASNCSV: []string{filepath.Join(dir, "missing.csv")}}, "missing.csv"},
		{"bad csv row", Config{ASNCSV: []string{csvBad}}, "bad.csv"},
		{"missing list", Config{TorExits: []string{filepath.Join(dir, "tor.txt")}}, "tor.txt"},
		{"http list", Config{VPNRanges: []string{"http://example.com/vpn.txt"}}, "http://example.com/vpn.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quietLogger()
			r, err := Open(context.Background(), tc.cfg)
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.file) || sm.ErrorCode(err) != sm.EINVALID {
				t.Errorf("err = %v, want EINVALID naming %s", err, tc.file)
			}
		})
	}
}

func TestLookupAfterClose(t *testing.T) {
	dir := t.TempDir()
	db := writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(13335, "Cloudflare")})
	csv := filepath.Join(dir, "asn.csv")
	tor := filepath.Join(dir, "tor.txt")
	writeFile(t, csv, "1.0.1.0,1.0.1.255,15169,Google\n")
	writeFile(t, tor, "1.0.0.1\n")
	r := openResolver(t, Config{DBPaths: []string{db}, ASNCSV: []string{csv}, TorExits: []string{tor}})
	if got := lookup(t, r, "1.0.0.1"); !got.Found || !got.Threat.Tor {
		t.Fatalf("before close: %+v", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"1.0.0.1", "1.0.1.1"} {
		if got := lookup(t, r, ip); got != (sm.GeoResult{}) {
			t.Errorf("after close %s: %+v", ip, got)
		}
	}
	r.ReloadFiles() // must not reopen closed data
	for _, ip := range []string{"1.0.0.1", "1.0.1.1"} {
		if got := lookup(t, r, ip); got.Found {
			t.Errorf("reload after close reopened %s: %+v", ip, got)
		}
	}
}
