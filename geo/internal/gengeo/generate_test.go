package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/geo/internal/rangefile"
)

// writeTGZ writes an npm-style tarball (files under package/) and returns
// its path and integrity.
func writeTGZ(t *testing.T, name string, files map[string]string, order []string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range order {
		body := files[f]
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + f, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(buf.Bytes())
	return path, "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

func fixture(t *testing.T) options {
	t.Helper()
	country := map[string]string{
		"package.json": `{"name":"@ip-location-db/geo-whois-asn-country","version":"2.3.2026061719"}`,
		"NRO_LICENSE":  "NRO terms\n",
		"geo-whois-asn-country-ipv4.csv": "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.3.255,CN\n" +
			"2.58.196.0,2.58.197.255,DE\n2.58.197.15,2.58.197.15,BE\n" +
			"9.0.0.0,9.255.255.255,US\n255.255.255.0,255.255.255.255,ZZ\n",
		"geo-whois-asn-country-ipv6.csv": "2001:418:1401:51::,2001:418:1439::29f,US\n2001:418:1439::2a0,2001:418:1439::2a0,CA\n" +
			"2001:418:1439::2a1,2001:418:149a:ffff:ffff:ffff:ffff:ffff,US\n",
		"geo-whois-asn-country-ipv4-num.csv": "ignored\n",
	}
	asn := map[string]string{
		"package.json":       `{"name":"@ip-location-db/asn","version":"2.3.2026061720"}`,
		"DBIP-LICENSE":       "DB-IP terms\n",
		"ROUTEVIEWS-LICENSE": "RouteViews terms\n",
		"asn-ipv4.csv": "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n" +
			"214.95.0.0,215.0.255.255,749,DoD\n215.0.0.0,215.1.3.255,721,DoD NIC\n9.9.9.0,9.9.9.255,0,\n",
		"asn-ipv6.csv": "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n",
	}
	var o options
	o.countryTGZ, o.countryIntegrity = writeTGZ(t, "c.tgz", country, []string{"package.json", "NRO_LICENSE", "geo-whois-asn-country-ipv4.csv", "geo-whois-asn-country-ipv6.csv", "geo-whois-asn-country-ipv4-num.csv"})
	o.asnTGZ, o.asnIntegrity = writeTGZ(t, "a.tgz", asn, []string{"asn-ipv6.csv", "asn-ipv4.csv", "ROUTEVIEWS-LICENSE", "DBIP-LICENSE", "package.json"})
	return o
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGenerateReproducible: the same tarballs give byte-identical files.
func TestGenerateReproducible(t *testing.T) {
	o := fixture(t)
	var trees []map[string]string
	for range 2 {
		o.out = t.TempDir()
		if err := generate(o); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, readTree(t, o.out))
	}
	want := []string{"country.bin", "asn.bin", "snapshot.go", "LICENSES/geo-whois-asn-country/NRO_LICENSE", "LICENSES/asn/DBIP-LICENSE", "LICENSES/asn/ROUTEVIEWS-LICENSE"}
	if len(trees[0]) != len(want) {
		t.Errorf("files = %d, want %v", len(trees[0]), want)
	}
	for _, f := range want {
		a, ok := trees[0][f]
		if !ok {
			t.Errorf("%s not written", f)
		}
		if a != trees[1][f] {
			t.Errorf("%s differs between two runs", f)
		}
	}
	snap := trees[0]["snapshot.go"]
	for _, s := range []string{"time.Date(2026, 6, 17, 20, 0, 0, 0, time.UTC)", `Version: "2.3.2026061719"`, o.asnIntegrity, "Ranges: 10}", "Ranges: 5}", "ASNs:    5,", "Orgs:    5,"} {
		if !strings.Contains(snap, s) {
			t.Errorf("snapshot.go lacks %s:\n%s", s, snap)
		}
	}

	db, err := rangefile.Parse(trees[0]["country.bin"], trees[0]["asn.bin"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ip, cc string
		asn    uint32
		org    string
	}{
		{"0.255.255.255", "", 0, ""},
		{"1.0.0.0", "AU", 13335, "Cloudflare, Inc."},
		{"1.0.0.255", "AU", 13335, "Cloudflare, Inc."},
		{"1.0.1.0", "CN", 0, ""},
		{"1.0.4.0", "", 38803, "Gtelecom Pty Ltd"},
		{"2.58.197.14", "DE", 0, ""},
		{"2.58.197.15", "BE", 0, ""},
		{"2.58.197.16", "DE", 0, ""},
		{"9.9.9.9", "US", 0, ""}, // ASN 0: not routed
		{"214.255.255.255", "", 749, "DoD"},
		{"215.0.0.0", "", 721, "DoD NIC"},
		{"215.1.4.0", "", 0, ""},
		{"255.255.255.255", "ZZ", 0, ""},
		{"2001:418:1439::29f", "US", 0, ""},
		{"2001:418:1439::2a0", "CA", 0, ""},
		{"2001:418:1439::2a1", "US", 0, ""},
		{"2001:418:149b::", "", 0, ""},
		{"2001:4860:4860::8888", "", 15169, "Google LLC"},
		{"2001:4861::", "", 0, ""},
	} {
		ip := netip.MustParseAddr(tt.ip)
		if cc := db.Country(ip); cc != tt.cc {
			t.Errorf("Country(%s) = %q, want %q", tt.ip, cc, tt.cc)
		}
		if asn, org := db.ASN(ip); asn != tt.asn || org != tt.org {
			t.Errorf("ASN(%s) = %d %q, want %d %q", tt.ip, asn, org, tt.asn, tt.org)
		}
	}
}

func TestGenerateRefusesWrongIntegrity(t *testing.T) {
	o := fixture(t)
	o.out = t.TempDir()
	o.asnIntegrity = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	err := generate(o)
	if err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Fatalf("err = %v, want an integrity mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(o.out, "asn.bin")); err == nil {
		t.Error("files written despite the mismatch")
	}
}

func TestVersionDate(t *testing.T) {
	d, err := versionDate("2.3.2026061719")
	if err != nil || !d.Equal(time.Date(2026, 6, 17, 19, 0, 0, 0, time.UTC)) {
		t.Fatalf("versionDate = %v, %v", d, err)
	}
	if _, err := versionDate("1.0.0"); err == nil {
		t.Error("want an error for a version without a build number")
	}
}

func TestParseRejectsCorruptFiles(t *testing.T) {
	o := fixture(t)
	o.out = t.TempDir()
	if err := generate(o); err != nil {
		t.Fatal(err)
	}
	tree := readTree(t, o.out)
	c, a := tree["country.bin"], tree["asn.bin"]
	for name, pair := range map[string][2]string{
		"swapped":   {a, c},
		"truncated": {c[:len(c)-3], a},
		"bad magic": {"X" + c[1:], a},
		"empty":     {"", a},
	} {
		if _, err := rangefile.Parse(pair[0], pair[1]); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
}

// TestCorruptTablesNeverPanic: whatever bytes a damaged file holds, a
// file that passes Parse answers lookups without panicking.
func TestCorruptTablesNeverPanic(t *testing.T) {
	o := fixture(t)
	o.out = t.TempDir()
	if err := generate(o); err != nil {
		t.Fatal(err)
	}
	tree := readTree(t, o.out)
	addrs := []netip.Addr{netip.MustParseAddr("1.0.0.1"), netip.MustParseAddr("215.0.0.1"), netip.MustParseAddr("2001:4860::1"), netip.MustParseAddr("255.255.255.255")}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		c, a := []byte(tree["country.bin"]), []byte(tree["asn.bin"])
		for range 1 + i%8 {
			b := a
			if rng.IntN(2) == 0 {
				b = c
			}
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		db, err := rangefile.Parse(string(c), string(a))
		if err != nil {
			continue
		}
		for _, ip := range addrs {
			_ = db.Country(ip)
			_, _ = db.ASN(ip)
		}
	}
}
