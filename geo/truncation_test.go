package geo

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// TestTruncatedListLastLine: a list cut mid-line ("...\n104.244.72.0/2")
// must not turn its last entry into a quarter of IPv4, whether it comes as
// a download or a file; a complete last line without a newline (as
// Cloudflare's ips-v4 ends) is still used.
func TestTruncatedListLastLine(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"cut prefix length", "185.220.101.0/24\n104.244.72.0/2", "185.220.101.0/24"},
		{"cut address", "185.220.101.1\n185.220.101.4", "185.220.101.1/32"},
		{"complete CIDR without newline", "173.245.48.0/20\n103.21.244.0/22", "173.245.48.0/20 103.21.244.0/22"},
		{"cut after a separator", "1.10.16.0/20 ; SBL1\n2.56.192.0/22 ; SB", "1.10.16.0/20 2.56.192.0/22"},
		{"single line", "8.8.8.8", "8.8.8.8/32"},
	} {
		fd, err := parseFeed([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := prefixStrings(fd.prefixes); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// Too-short prefixes are bad entries wherever they appear; only
	// short ones is not a list at all.
	fd, err := parseFeed([]byte("0.0.0.0/1\n5.188.10.0/23\n2000::/3\n"))
	if err != nil || prefixStrings(fd.prefixes) != "5.188.10.0/23" || fd.bad != 2 {
		t.Errorf("short prefixes: %v %s bad %d", err, prefixStrings(fd.prefixes), fd.bad)
	}
	if _, err := parseFeed([]byte("104.244.72.0/2")); err == nil {
		t.Error("a list of one /2 was accepted")
	}

	// Download: a truncated refresh keeps blocking only what it should.
	ls := &listServer{status: 200, body: "185.220.101.0/24\n104.244.72.0/24\n"}
	srv := httptest.NewTLSServer(ls)
	defer srv.Close()
	r := openResolver(t, Config{ThreatRanges: []string{srv.URL + "/level1"}, CacheDir: t.TempDir(), HTTPClient: srv.Client()})
	r.RefreshLists(context.Background())
	ls.set(200, "185.220.101.0/24\n104.244.72.0/2")
	r.RefreshLists(context.Background())
	if lookup(t, r, "64.1.2.3").Threat.KnownThreat {
		t.Fatal("a truncated download flagged 64.0.0.0/2")
	}

	// File: a file written in place is read only once it stopped changing.
	dir := t.TempDir()
	tor := filepath.Join(dir, "tor.txt")
	writeFile(t, tor, "185.220.101.1\n")
	rf := openResolver(t, Config{TorExits: []string{tor}})
	writeFile(t, tor, "185.220.101.1\n185.220.101.2\n104.244.")
	bumpMtime(t, tor, time.Second)
	rf.ReloadFiles()
	if lookup(t, rf, "185.220.101.2").Threat.Tor {
		t.Fatal("a file still being written was read")
	}
	writeFile(t, tor, "185.220.101.1\n185.220.101.2\n104.244.72.1\n")
	bumpMtime(t, tor, 2*time.Second)
	rf.ReloadFiles()
	rf.ReloadFiles()
	if !lookup(t, rf, "185.220.101.2").Threat.Tor || !lookup(t, rf, "104.244.72.1").Threat.Tor {
		t.Fatal("the finished file was not read")
	}
}

// TestGeoStatusNamesUnique: two list files with the same base name get
// distinct status names, the same ones on every call.
func TestGeoStatusNamesUnique(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "list.txt"), filepath.Join(t.TempDir(), "list.txt")
	writeFile(t, a, "45.83.220.0/22\n")
	writeFile(t, b, "45.84.0.0/22\n")
	r := openResolver(t, Config{VPNRanges: []string{a, b}})
	names := func() map[string]string {
		m := map[string]string{}
		for _, s := range r.GeoStatus().Sources {
			if _, dup := m[s.Name]; dup {
				t.Fatalf("name %q twice", s.Name)
			}
			m[s.Name] = s.Origin
		}
		return m
	}
	first := names()
	if first["vpn-list.txt"] != a || first["vpn-list.txt-2"] != b {
		t.Fatalf("names = %v", first)
	}
	for name, origin := range names() {
		if first[name] != origin {
			t.Errorf("%s is %s, was %s", name, origin, first[name])
		}
	}
}
