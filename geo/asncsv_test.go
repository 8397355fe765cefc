package geo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestASNCSV(t *testing.T) {
	dir := t.TempDir()
	v4 := filepath.Join(dir, "asn-ipv4.csv")
	v6 := filepath.Join(dir, "asn-ipv6.csv")
	num := filepath.Join(dir, "asn-ipv4-num.csv")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(v4, "ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\n"+
		"1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n"+
		"1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n"+
		// A range that is not one CIDR: 8.8.8.0 - 8.8.9.127.
		"8.8.8.0,8.8.9.127,15169,Google LLC\n"+
		"9.9.9.0,9.9.9.255,0,\n")
	write(v6, "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n")
	write(num, "16777216,16777471,13335,\"Cloudflare, Inc.\"\n")
	r := openResolver(t, Config{ASNCSV: []string{v4, v6}})
	cases := []struct {
		ip  string
		asn uint32
		org string
		dc  bool
	}{
		{"1.0.0.1", 13335, "Cloudflare, Inc.", true},
		{"1.0.5.9", 38803, "Gtelecom Pty Ltd", false},
		{"8.8.8.8", 15169, "Google LLC", false},
		{"8.8.9.127", 15169, "Google LLC", false},
		{"8.8.9.128", 0, "", false},
		{"9.9.9.9", 0, "", false}, // ASN 0: not routed
		{"2001:4860:4860::8888", 15169, "Google LLC", false},
		{"::ffff:1.0.0.1", 13335, "Cloudflare, Inc.", true},
	}
	for _, tc := range cases {
		got := lookup(t, r, tc.ip)
		if got.Location.ASN != tc.asn || got.Location.ISP != tc.org || got.Threat.Datacenter != tc.dc || got.Found != (tc.asn != 0) {
			t.Errorf("%s = %+v, want ASN %d %q dc=%v", tc.ip, got, tc.asn, tc.org, tc.dc)
		}
	}
	if s4, s6 := source(t, r, v4), source(t, r, v6); s4.Records != 3 || s6.Records != 1 || s4.Format != "asn-csv" ||
		!slices.Equal(s4.Provides, []string{sm.GeoASN}) || s4.DataDate.IsZero() {
		t.Errorf("status = %+v %+v, want 3 and 1 ranges", s4, s6)
	}

	// A changed file is reloaded; a broken one is refused.
	write(v6, "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,64512,Renumbered\n")
	bumpMtime(t, v6, time.Second)
	r.ReloadFiles()
	if got := lookup(t, r, "2001:4860::1").Location; got.ASN != 64512 || got.ISP != "Renumbered" {
		t.Errorf("after reload: %+v", got)
	}
	write(v6, "garbage,row,here\n")
	bumpMtime(t, v6, 2*time.Second)
	r.ReloadFiles()
	if got := lookup(t, r, "2001:4860::1").Location; got.ASN != 64512 {
		t.Errorf("a broken file replaced the table: %+v", got)
	}

	rn := openResolver(t, Config{ASNCSV: []string{num}})
	if got := lookup(t, rn, "1.0.0.200"); got.Location.ASN != 13335 {
		t.Errorf("numeric CSV: %+v", got)
	}
}

// TestASNDatabaseWinsOverCSV: a .mmdb ASN answer is kept, the CSV fills gaps.
func TestASNDatabaseWinsOverCSV(t *testing.T) {
	dir := t.TempDir()
	db := writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(64500, "From DB")})
	csv := filepath.Join(dir, "asn.csv")
	if err := os.WriteFile(csv, []byte("1.0.0.0,1.0.1.255,13335,From CSV\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openResolver(t, Config{DBPaths: []string{db}, ASNCSV: []string{csv}})
	if got := lookup(t, r, "1.0.0.1").Location; got.ASN != 64500 || got.ISP != "From DB" {
		t.Errorf("1.0.0.1 = %+v, want the DB's answer", got)
	}
	if got := lookup(t, r, "1.0.1.1").Location; got.ASN != 13335 || got.ISP != "From CSV" {
		t.Errorf("1.0.1.1 = %+v, want the CSV's answer", got)
	}
}
