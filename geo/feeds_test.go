package geo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// Fixtures in the real formats of the default feeds (shortened).
const (
	fixtureTorBulk          = "185.220.101.1\n185.220.101.2\n2001:67c:e60:c0c:192:42:116:16\n"
	fixtureTorExitAddresses = `ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
Published 2024-05-01 12:00:00
LastStatus 2024-05-01 13:00:00
ExitAddress 162.247.74.7 2024-05-01 13:04:11
ExitNode 0030F8A6D7A3D2A4A3A9E0F1B1C2D3E4F5A6B7C8
Published 2024-05-01 10:00:00
LastStatus 2024-05-01 13:00:00
ExitAddress 185.220.100.240 2024-05-01 13:01:02
`
	fixtureAWS = `{
  "syncToken": "1714560000",
  "createDate": "2024-05-01-10-40-00",
  "prefixes": [
    {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON", "network_border_group": "ap-northeast-2"},
    {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "S3", "network_border_group": "ap-northeast-2"},
    {"ip_prefix": "52.94.76.0/22", "region": "us-west-2", "service": "EC2", "network_border_group": "us-west-2"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "EC2", "network_border_group": "us-west-2"}
  ]
}`
	fixtureGCP = `{
  "syncToken": "1714550000000",
  "creationTime": "2024-05-01T08:13:20.000000",
  "prefixes": [{
    "ipv4Prefix": "34.1.208.0/20",
    "service": "Google Cloud",
    "scope": "africa-south1"
  }, {
    "ipv6Prefix": "2600:1900:8000::/44",
    "service": "Google Cloud",
    "scope": "africa-south1"
  }]
}`
	fixtureOracle = `{
  "last_updated_timestamp": "2024-05-01T00:12:08.054097",
  "regions": [
    {
      "region": "us-phoenix-1",
      "cidrs": [
        {"cidr": "129.146.0.0/21", "tags": ["OCI"]},
        {"cidr": "134.70.8.0/21", "tags": ["OSN", "OBJECT_STORAGE"]}
      ]
    }
  ]
}`
	fixtureGeofeed = `# DigitalOcean geofeed
5.101.96.0/21,NL,NL-NH,Amsterdam,1098
2a03:b0c0:3::/48,DE,DE-HE,Frankfurt,60341
`
	fixtureCloudflare = "173.245.48.0/20\n103.21.244.0/22\n"
	fixtureX4BNet     = "5.8.16.0/21\n45.83.220.0/22\n"
	fixtureFireHOL    = `#
# firehol_level1
#
# ipv4 hash:net ipset
#
# A firewall blacklist composed from IP lists, providing
# maximum protection with minimum false positives.
#
0.0.0.0/8
5.188.10.0/23
31.184.196.3
`
	fixtureSpamhausText = "; Spamhaus DROP List 2024/05/01\n; Last-Modified: Wed, 01 May 2024 08:00:00 GMT\n1.10.16.0/20 ; SBL256894\n2.56.192.0/22 ; SBL459831\n"
	fixtureSpamhausJSON = `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}
{"cidr":"2.56.192.0/22","sblid":"SBL459831","rir":"ripencc"}
{"type":"metadata","timestamp":1714550000,"size":123,"records":2,"copyright":"(c) 2024 The Spamhaus Project SLU","terms":"https://www.spamhaus.org/drop/terms/"}
`
)

func prefixStrings(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, " ")
}

func TestParseFeedFormats(t *testing.T) {
	cases := []struct {
		name, in, format, want string
		bad                    int
	}{
		{"tor bulk", fixtureTorBulk, FormatPlain, "185.220.101.1/32 185.220.101.2/32 2001:67c:e60:c0c:192:42:116:16/128", 0},
		{"tor exit-addresses", fixtureTorExitAddresses, FormatTorExitAddresses, "162.247.74.7/32 185.220.100.240/32", 0},
		{"aws", fixtureAWS, FormatAWS, "3.5.140.0/22 52.94.76.0/22 2600:1f14::/35", 0},
		{"gcp", fixtureGCP, FormatGCP, "34.1.208.0/20 2600:1900:8000::/44", 0},
		{"oracle", fixtureOracle, FormatOracle, "129.146.0.0/21 134.70.8.0/21", 0},
		{"oracle minified", `{"last_updated_timestamp":"2024-05-01T00:12:08","regions":[{"region":"us-phoenix-1","cidrs":[{"cidr":"129.146.0.0/21","tags":["OCI"]}]}]}`, FormatOracle, "129.146.0.0/21", 0},
		{"geofeed", fixtureGeofeed, FormatGeofeed, "5.101.96.0/21 2a03:b0c0:3::/48", 0},
		{"cloudflare", fixtureCloudflare, FormatPlain, "173.245.48.0/20 103.21.244.0/22", 0},
		{"firehol", fixtureFireHOL, FormatPlain, "0.0.0.0/8 5.188.10.0/23 31.184.196.3/32", 0},
		{"spamhaus text", fixtureSpamhausText, FormatPlain, "1.10.16.0/20 2.56.192.0/22", 0},
		{"spamhaus json", fixtureSpamhausJSON, FormatSpamhausJSON, "1.10.16.0/20 2.56.192.0/22", 0},
		{"plain with a typo, mapped v6, trailing comma, BOM", "\xef\xbb\xbf10.0.0.0/8,\n::ffff:1.2.3.4\nnot-an-ip\n8.8.8.8 # dns\n", FormatPlain, "10.0.0.0/8 1.2.3.4/32 8.8.8.8/32", 1},
	}
	for _, c := range cases {
		fd, err := parseFeed([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if fd.format != c.format || prefixStrings(fd.prefixes) != c.want || fd.bad != c.bad {
			t.Errorf("%s: format %s, %s (bad %d)\nwant   %s, %s (bad %d)", c.name, fd.format, prefixStrings(fd.prefixes), fd.bad, c.format, c.want, c.bad)
		}
	}

	for _, c := range []struct{ name, in, want string }{
		{"truncated AWS JSON", fixtureAWS[:len(fixtureAWS)/2], "does not parse"},
		{"JSON of another shape", `{"items":[{"ip":"1.2.3.4"}]}`, "unrecognised"},
		{"Spamhaus JSON cut before the metadata", strings.SplitAfter(fixtureSpamhausJSON, "\n")[0], "truncated"},
		{"Spamhaus JSON cut mid-line", fixtureSpamhausJSON[:80], "does not parse"},
		{"Spamhaus JSON with fewer records than announced", strings.Replace(fixtureSpamhausJSON, `"records":2`, `"records":900`, 1), "truncated"},
		{"HTML error page", "<!DOCTYPE html><html><body>Rate limited</body></html>", "unrecognised"},
		{"text that is not a list", "Service temporarily unavailable\nplease retry later\n", "unrecognised"},
	} {
		if _, err := parseFeed([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one saying %q", c.name, err, c.want)
		}
	}
}

// TestListFileInUnknownFormatIsAnError: a file that is not a list fails
// Open naming it, never loads as zero entries.
func TestListFileInUnknownFormatIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vpn.html")
	writeFile(t, path, "<html>Not Found</html>")
	_, err := Open(context.Background(), Config{VPNRanges: []string{path}, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "unrecognised") {
		t.Fatalf("err = %v, want an unrecognised-format error naming %s", err, path)
	}
	// A file in a provider's format works through any list variable.
	writeFile(t, path, fixtureOracle)
	r := openResolver(t, Config{DatacenterRanges: []string{path}})
	if !lookup(t, r, "129.146.1.1").Threat.Datacenter {
		t.Fatal("Oracle JSON file not loaded")
	}
}

// feedServer serves fixtures by path over TLS, with ETag support, and
// records the requests it gets.
type feedServer struct {
	mu       sync.Mutex
	bodies   map[string]string
	status   map[string]int
	requests []*http.Request
}

func newFeedServer(t *testing.T, bodies map[string]string) (*feedServer, *httptest.Server) {
	fs := &feedServer{bodies: bodies, status: map[string]int{}}
	srv := httptest.NewTLSServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

func (f *feedServer) set(path string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[path], f.bodies[path] = status, body
}

func (f *feedServer) reqs(path string) []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.requests {
		if path == "" || r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	body, ok := f.bodies[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if st := f.status[r.URL.Path]; st != 0 && st != 200 {
		w.WriteHeader(st)
		_, _ = w.Write([]byte(body))
		return
	}
	sum := sha256.Sum256([]byte(body))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", "Wed, 01 May 2024 08:00:00 GMT")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write([]byte(body))
}

// localFeeds are the default feeds pointed at srv, each at the path of
// its real URL.
func localFeeds(t *testing.T, srv *httptest.Server) []Feed {
	t.Helper()
	var out []Feed
	for _, f := range DefaultFeeds {
		i := strings.Index(f.URL[len("https://"):], "/")
		f.URL = srv.URL + "/" + strings.SplitN(f.URL[len("https://"):], "/", 2)[0] + f.URL[len("https://")+i:]
		out = append(out, f)
	}
	return out
}

func defaultFeedBodies() map[string]string {
	return map[string]string{
		"/check.torproject.org/torbulkexitlist":                                            fixtureTorBulk,
		"/ip-ranges.amazonaws.com/ip-ranges.json":                                          fixtureAWS,
		"/www.gstatic.com/ipranges/cloud.json":                                             fixtureGCP,
		"/docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json":                          fixtureOracle,
		"/digitalocean.com/geo/google.csv":                                                 fixtureGeofeed,
		"/www.cloudflare.com/ips-v4":                                                       "173.245.48.0/20\n",
		"/www.cloudflare.com/ips-v6":                                                       "2400:cb00::/32\n",
		"/raw.githubusercontent.com/X4BNet/lists_vpn/main/output/vpn/ipv4.txt":             fixtureX4BNet,
		"/raw.githubusercontent.com/firehol/blocklist-ipsets/master/firehol_level1.netset": fixtureFireHOL,
		"/www.spamhaus.org/drop/drop_v4.json":                                              fixtureSpamhausJSON,
		"/www.spamhaus.org/drop/drop_v6.json":                                              `{"cidr":"2a06:e480::/29","sblid":"SBL303641","rir":"ripencc"}` + "\n" + `{"type":"metadata","timestamp":1714550000,"records":1}` + "\n",
	}
}

func flags(th sm.Threat) string {
	var got []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"tor", th.Tor}, {"vpn", th.VPN}, {"proxy", th.Proxy}, {"datacenter", th.Datacenter}, {"threat", th.KnownThreat}} {
		if f.on {
			got = append(got, f.name)
		}
	}
	return strings.Join(got, ",")
}

// TestDefaultFeedsDownloadInBackground: every default feed, served locally
// in its real format, is downloaded by Run (not by Open) and flags its kind;
// the status names each feed's format, records and licence.
func TestDefaultFeedsDownloadInBackground(t *testing.T) {
	fs, srv := newFeedServer(t, defaultFeedBodies())
	r := openResolver(t, Config{Feeds: localFeeds(t, srv), CacheDir: t.TempDir(), HTTPClient: srv.Client()})
	if n := len(fs.reqs("")); n != 0 {
		t.Fatalf("Open made %d requests: start-up must not wait for downloads", n)
	}
	st := r.GeoStatus()
	if len(configured(st)) != len(DefaultFeeds) || !st.Feeds || st.Has(sm.GeoTor) {
		t.Fatalf("status before the first download = %+v", st)
	}
	for _, s := range configured(st) {
		if s.Note != notDownloadedYet || s.LastError != "" || !s.Enabled || s.Records != 0 {
			t.Errorf("%s before the first download: %+v", s.Name, s)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	wantFlags := map[string]string{
		"185.220.101.1": "tor", "2001:67c:e60:c0c:192:42:116:16": "tor",
		"3.5.141.1": "datacenter", "2600:1f14::1": "datacenter", "34.1.210.1": "datacenter", "129.146.7.7": "datacenter",
		"5.101.97.1": "datacenter", "2a03:b0c0:3::1": "datacenter", "173.245.50.1": "datacenter", "2400:cb00::1": "datacenter",
		"45.83.221.1": "vpn", "5.188.11.1": "threat", "1.10.17.1": "threat", "2a06:e480::1": "threat", "9.9.9.9": "",
	}
	mismatches := func() (out []string) {
		for ip, want := range wantFlags {
			if got := flags(lookup(t, r, ip).Threat); got != want {
				out = append(out, ip+" flags "+got+", want "+want)
			}
		}
		return out
	}
	// Run works in the background: wait until every list is in the tables.
	deadline := time.Now().Add(15 * time.Second)
	for len(mismatches()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m := mismatches(); len(m) > 0 {
		t.Fatalf("after the background downloads: %v", m)
	}
	if n := len(fs.reqs("")); n != len(DefaultFeeds) {
		t.Errorf("%d requests, want one per feed (%d)", n, len(DefaultFeeds))
	}
	formats := map[string]string{}
	for _, s := range configured(r.GeoStatus()) {
		formats[s.Name] = s.Format
		if s.LastError != "" || s.Records == 0 || s.DataDate.IsZero() || s.RefreshInterval == 0 || s.License == "" || s.Attribution == "" {
			t.Errorf("status of %s = %+v", s.Name, s)
		}
	}
	want := map[string]string{
		"tor-exits": FormatPlain, "aws": FormatAWS, "gcp": FormatGCP, "oracle": FormatOracle, "digitalocean": FormatGeofeed,
		"cloudflare-v4": FormatPlain, "cloudflare-v6": FormatPlain, "x4bnet-vpn": FormatPlain, "firehol-level1": FormatPlain,
		"spamhaus-drop-v4": FormatSpamhausJSON, "spamhaus-drop-v6": FormatSpamhausJSON,
	}
	for name, f := range want {
		if formats[name] != f {
			t.Errorf("format of %s = %q, want %q", name, formats[name], f)
		}
	}
}

func oneFeed(srv *httptest.Server, path, kind string) []Feed {
	return []Feed{{Name: "test-feed", Kind: kind, URL: srv.URL + path, Refresh: time.Hour, License: "test"}}
}

// TestFeedConditionalGET: a refresh sends the validators; a 304 keeps the
// copy, counts as a success and is remembered across a restart.
func TestFeedConditionalGET(t *testing.T) {
	fs, srv := newFeedServer(t, map[string]string{"/ip-ranges.json": fixtureAWS})
	cache := t.TempDir()
	cfg := Config{Feeds: oneFeed(srv, "/ip-ranges.json", KindDatacenter), CacheDir: cache, HTTPClient: srv.Client()}
	r := openResolver(t, cfg)
	r.RefreshLists(context.Background())
	first := r.GeoStatus().Sources[0]
	if first.Records != 3 || first.LastError != "" {
		t.Fatalf("first download: %+v", first)
	}
	time.Sleep(5 * time.Millisecond)
	r.RefreshLists(context.Background())
	reqs := fs.reqs("/ip-ranges.json")
	if len(reqs) != 2 || reqs[1].Header.Get("If-None-Match") == "" || reqs[1].Header.Get("If-Modified-Since") == "" {
		t.Fatalf("second request headers = %v", reqs[len(reqs)-1].Header)
	}
	after := r.GeoStatus().Sources[0]
	if after.Records != 3 || after.LastError != "" || !after.DataDate.After(first.DataDate) || !lookup(t, r, "52.94.77.1").Threat.Datacenter {
		t.Fatalf("after 304: %+v", after)
	}

	// A restart sends the validators kept beside the copy and gets a 304.
	r2 := openResolver(t, cfg)
	if got := r2.GeoStatus().Sources[0]; got.Records != 3 || !got.DataDate.Equal(after.DataDate) {
		t.Fatalf("after restart: %+v, want the copy dated %v", got, after.DataDate)
	}
	r2.RefreshLists(context.Background())
	reqs = fs.reqs("/ip-ranges.json")
	if reqs[2].Header.Get("If-None-Match") != reqs[1].Header.Get("If-None-Match") || r2.GeoStatus().Sources[0].Records != 3 {
		t.Fatalf("restart request headers = %v", reqs[2].Header)
	}
}

// TestFeedBadDownloadKeepsLastGoodCopy: a failed, empty, corrupt,
// truncated, unrecognised or much shorter download never replaces the copy
// in memory or on disk; a restart without network loads that copy.
func TestFeedBadDownloadKeepsLastGoodCopy(t *testing.T) {
	big := ""
	for i := range 10 {
		big += netip.AddrFrom4([4]byte{45, 83, 220, byte(i)}).String() + "\n"
	}
	fs, srv := newFeedServer(t, map[string]string{"/vpn.txt": big, "/aws.json": fixtureAWS})
	cache := t.TempDir()
	cfg := Config{Feeds: append(oneFeed(srv, "/vpn.txt", KindVPN), Feed{Name: "aws", Kind: KindDatacenter, URL: srv.URL + "/aws.json", Refresh: time.Hour}),
		CacheDir: cache, HTTPClient: srv.Client()}
	r := openResolver(t, cfg)
	r.RefreshLists(context.Background())
	check := func(step string) {
		t.Helper()
		if !lookup(t, r, "45.83.220.9").Threat.VPN || !lookup(t, r, "3.5.140.1").Threat.Datacenter {
			t.Fatalf("%s: the last good copy was lost", step)
		}
		for _, s := range configured(r.GeoStatus()) {
			if s.LastError == "" || (s.Name == "test-feed" && s.Records != 10) || (s.Name == "aws" && s.Records != 3) {
				t.Errorf("%s: status %+v", step, s)
			}
		}
	}
	for _, step := range []struct {
		name, vpn, aws string
		status         int
	}{
		{"HTTP 500", "oops", "oops", 500},
		{"empty body", "", "", 200},
		{"only comments", "# nothing today\n", "{}", 200},
		{"truncated", "45.83.220.0\n45.83.220.1\n45.83", fixtureAWS[:100], 200},
		{"HTML instead of a list", "<html><body>captcha</body></html>", "<html></html>", 200},
	} {
		fs.set("/vpn.txt", step.status, step.vpn)
		fs.set("/aws.json", step.status, step.aws)
		r.RefreshLists(context.Background())
		check(step.name)
	}

	// A restart without network starts from the copies on disk.
	srv.Close()
	r2 := openResolver(t, cfg)
	if !lookup(t, r2, "45.83.220.9").Threat.VPN || !lookup(t, r2, "3.5.140.1").Threat.Datacenter {
		t.Fatal("restart without network lost the lists")
	}
	r2.RefreshLists(context.Background())
	for _, s := range configured(r2.GeoStatus()) {
		if s.Records == 0 || s.LastError == "" || s.DataDate.IsZero() {
			t.Errorf("offline status %+v", s)
		}
	}
}

// TestFeedShrinkAcceptedWhenConfirmed: a list that really shrank is taken
// once the same content came shrinkConfirmations times in a row.
func TestFeedShrinkAcceptedWhenConfirmed(t *testing.T) {
	fs, srv := newFeedServer(t, map[string]string{"/tor": "1.1.1.1\n1.1.1.2\n1.1.1.3\n1.1.1.4\n"})
	r := openResolver(t, Config{Feeds: oneFeed(srv, "/tor", KindTor), HTTPClient: srv.Client()})
	r.RefreshLists(context.Background())
	fs.set("/tor", 200, "1.1.1.9\n")
	for i := 1; i <= shrinkConfirmations; i++ {
		r.RefreshLists(context.Background())
		if got := lookup(t, r, "1.1.1.9").Threat.Tor; got != (i == shrinkConfirmations) {
			t.Fatalf("after %d identical short downloads: new list used = %v", i, got)
		}
	}
	if lookup(t, r, "1.1.1.1").Threat.Tor {
		t.Fatal("old list still used")
	}
}

// countingTransport fails the test on any request.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil, errors.New("no network in this test")
}

// TestThreatFeedsOffMakesNoRequest: SM_THREAT_FEEDS=off lists every default
// feed as disabled and downloads nothing; files still load.
func TestThreatFeedsOffMakesNoRequest(t *testing.T) {
	dir := t.TempDir()
	tor := filepath.Join(dir, "exit-addresses")
	writeFile(t, tor, fixtureTorExitAddresses)
	env := map[string]string{"SM_THREAT_FEEDS": "off", "SM_TOR_EXITS": tor, "SM_GEOIP_CACHE_DIR": dir}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{}
	cfg.HTTPClient = &http.Client{Transport: ct}
	cfg.ReloadInterval = 10 * time.Millisecond
	r := openResolver(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = r.Run(ctx)
	r.RefreshLists(context.Background())
	if ct.n != 0 {
		t.Fatalf("%d requests with SM_THREAT_FEEDS=off", ct.n)
	}
	st := r.GeoStatus()
	if st.Feeds || !st.Has(sm.GeoTor) || st.Has(sm.GeoDatacenter) {
		t.Fatalf("status = %+v", st)
	}
	disabled := 0
	for _, s := range st.Sources {
		if !s.Enabled && s.Note == "disabled: SM_THREAT_FEEDS=off" && s.LastError == "" {
			disabled++
		}
	}
	if disabled != len(DefaultFeeds) {
		t.Errorf("%d disabled feeds listed, want %d: %+v", disabled, len(DefaultFeeds), st.Sources)
	}
	if !lookup(t, r, "162.247.74.7").Threat.Tor {
		t.Error("Tor file not loaded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cache dir written with downloads off: %v", entries)
	}
}

func TestConfigFromEnvFeeds(t *testing.T) {
	enabled := func(cfg Config) string {
		var on []string
		for _, f := range cfg.Feeds {
			if f.Disabled == "" {
				on = append(on, f.Name)
			}
		}
		return strings.Join(on, ",")
	}
	all := feedNames()
	cases := []struct {
		env      map[string]string
		want     string
		torFiles []string
	}{
		{map[string]string{}, strings.ReplaceAll(all, ", ", ","), nil},
		{map[string]string{"SM_THREAT_FEEDS": "tor,cloudflare,threat"}, "tor-exits,cloudflare-v4,cloudflare-v6,firehol-level1,spamhaus-drop-v4,spamhaus-drop-v6", nil},
		{map[string]string{"SM_THREAT_FEEDS": "tor", "SM_TOR_EXITS": "/etc/tor.txt"}, "", []string{"/etc/tor.txt"}},
		{map[string]string{"SM_THREAT_FEEDS": "tor", "SM_TOR_EXITS": "default,/etc/tor.txt"}, "tor-exits", []string{"/etc/tor.txt"}},
		{map[string]string{"SM_THREAT_FEEDS": "tor,x4bnet-vpn", "SM_VPN_RANGES": "off"}, "tor-exits", nil},
		{map[string]string{"SM_THREAT_FEEDS": "off", "SM_TOR_EXITS": "/etc/tor.txt"}, "", []string{"/etc/tor.txt"}},
	}
	for _, c := range cases {
		cfg, err := ConfigFromEnv(func(k string) string { return c.env[k] })
		if err != nil {
			t.Errorf("%v: %v", c.env, err)
			continue
		}
		if got := enabled(cfg); got != c.want || !slices.Equal(cfg.TorExits, c.torFiles) {
			t.Errorf("%v: feeds %q, tor files %v; want %q, %v", c.env, got, cfg.TorExits, c.want, c.torFiles)
		}
	}
	cfg, _ := ConfigFromEnv(func(k string) string { return map[string]string{"SM_DATACENTER_RANGES": "/dc.txt"}[k] })
	for _, f := range cfg.Feeds {
		if f.Kind == KindDatacenter && f.Disabled != "replaced by SM_DATACENTER_RANGES" {
			t.Errorf("%s: disabled %q", f.Name, f.Disabled)
		}
	}
	for _, c := range []struct{ env map[string]string }{
		{map[string]string{"SM_THREAT_FEEDS": "tor,nonsense"}},
		{map[string]string{"SM_THREAT_FEEDS": "off", "SM_TOR_EXITS": "https://check.torproject.org/torbulkexitlist"}},
		{map[string]string{"SM_VPN_RANGES": "http://example.com/vpn.txt"}},
		{map[string]string{"SM_VPN_RANGES": "off,/x.txt"}},
		{map[string]string{"SM_THREAT_REFRESH": "soon"}},
		{map[string]string{"SM_GEOIP_RELOAD": "-1s"}},
	} {
		_, err := ConfigFromEnv(func(k string) string { return c.env[k] })
		var e *sm.Error
		if !errors.As(err, &e) || len(e.Fields) != 1 {
			t.Errorf("%v: err = %v, want one invalid field", c.env, err)
			continue
		}
		for name := range e.Fields {
			if _, ok := c.env[name]; !ok {
				t.Errorf("%v: error names %s", c.env, name)
			}
		}
	}
	cfg, _ = ConfigFromEnv(func(k string) string { return map[string]string{"SM_THREAT_REFRESH": "2h", "SM_GEOIP_RELOAD": "5s"}[k] })
	if cfg.RefreshInterval != 2*time.Hour || cfg.ReloadInterval != 5*time.Second {
		t.Errorf("intervals = %v, %v", cfg.RefreshInterval, cfg.ReloadInterval)
	}
}

// TestFeedURLCredentialsStayHidden: a URL with a user and password is
// downloaded with them, but the status, logs and cache show it without.
func TestFeedURLCredentialsStayHidden(t *testing.T) {
	fs, srv := newFeedServer(t, map[string]string{"/vpn.txt": fixtureX4BNet})
	cache := t.TempDir()
	withCreds := strings.Replace(srv.URL, "https://", "https://user:s3cret@", 1) + "/vpn.txt"
	r := openResolver(t, Config{VPNRanges: []string{withCreds}, CacheDir: cache, HTTPClient: srv.Client()})
	r.RefreshLists(context.Background())
	if u, p, ok := fs.reqs("/vpn.txt")[0].BasicAuth(); !ok || u != "user" || p != "s3cret" {
		t.Fatalf("credentials not sent: %q %q %v", u, p, ok)
	}
	st := r.GeoStatus().Sources[0]
	if st.Records != 2 || strings.Contains(st.Origin, "s3cret") || strings.Contains(st.Name, "s3cret") {
		t.Fatalf("status = %+v", st)
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(cache, e.Name()))
		if strings.Contains(string(data), "s3cret") {
			t.Errorf("%s holds the password", e.Name())
		}
	}
	if r2 := openResolver(t, Config{VPNRanges: []string{withCreds}, CacheDir: cache, HTTPClient: srv.Client()}); r2.GeoStatus().Sources[0].Records != 2 {
		t.Error("cached copy not loaded back")
	}
}

func TestJitterAndFirstSchedule(t *testing.T) {
	for _, rn := range []func(int64) int64{func(int64) int64 { return 0 }, func(n int64) int64 { return n - 1 }} {
		d := jitter(10*time.Hour, rn)
		if d < 9*time.Hour || d > 11*time.Hour {
			t.Errorf("jitter(10h) = %v", d)
		}
	}
	if lo, hi := jitter(10*time.Hour, func(int64) int64 { return 0 }), jitter(10*time.Hour, func(n int64) int64 { return n - 1 }); hi-lo < 119*time.Minute {
		t.Errorf("jitter spread %v..%v, want about +/- 1h", lo, hi)
	}
	now := time.Now()
	s := &listSource{refresh: 10 * time.Hour}
	s.scheduleFirst(now, func(int64) int64 { return 0 })
	if !s.next.Equal(now) {
		t.Errorf("no copy: next %v, want now", s.next)
	}
	s.prefixes = []netip.Prefix{netip.MustParsePrefix("1.2.3.0/24")}
	s.lastRefresh = now.Add(-11 * time.Hour)
	s.scheduleFirst(now, func(int64) int64 { return 0 })
	if !s.next.Equal(now) {
		t.Errorf("stale copy: next %v, want now", s.next)
	}
	s.lastRefresh = now.Add(-time.Minute)
	s.scheduleFirst(now, func(n int64) int64 { return n - 1 })
	if want := now.Add(-time.Minute + 11*time.Hour); !s.next.Equal(want) {
		t.Errorf("fresh copy: next %v, want %v", s.next, want)
	}
	// Due by the jitter (lowest draw) but fresh: a random delay (highest draw).
	s.lastRefresh = now.Add(-9*time.Hour - 59*time.Minute)
	calls := 0
	s.scheduleFirst(now, func(n int64) int64 {
		if calls++; calls == 1 {
			return 0
		}
		return n - 1
	})
	if want := now.Add(time.Hour); !s.next.Equal(want) {
		t.Errorf("copy almost due: next %v, want a random delay of up to a tenth (%v)", s.next, want)
	}
}

// TestGeoStatusOfFilesAndDatabases: databases, ASN CSVs and list files are
// described with what they provide, their format, size, date and licence.
func TestGeoStatusOfFilesAndDatabases(t *testing.T) {
	dir := t.TempDir()
	city := writeDB(t, dir, "GeoLite2-City.mmdb", "GeoLite2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": cityRec("GB", "United Kingdom", "England", "London", 51.5, -0.09, "Europe/London"),
	})
	asnCSV := filepath.Join(dir, "asn-ipv4.csv")
	writeFile(t, asnCSV, "1.0.0.0,1.0.0.255,13335,Cloudflare\n")
	tor := filepath.Join(dir, "exit-addresses")
	writeFile(t, tor, fixtureTorExitAddresses)
	old := time.Date(2024, 5, 1, 13, 5, 0, 0, time.UTC)
	if err := os.Chtimes(tor, old, old); err != nil {
		t.Fatal(err)
	}
	r := openResolver(t, Config{DBPaths: []string{city}, ASNCSV: []string{asnCSV}, TorExits: []string{tor}})
	st := r.GeoStatus()
	byName := map[string]sm.GeoSource{}
	for _, s := range st.Sources {
		byName[s.Name] = s
	}
	db := byName["GeoLite2-City.mmdb"]
	if db.Format != "mmdb" || !slices.Equal(db.Provides, []string{sm.GeoCountry, sm.GeoCity}) || db.Records == 0 || db.DataDate.IsZero() ||
		!strings.Contains(db.Attribution, "GeoLite2") || !db.Enabled {
		t.Errorf("database: %+v", db)
	}
	asn := byName["asn-ipv4.csv"]
	if asn.Format != "asn-csv" || asn.Records != 1 || !slices.Equal(asn.Provides, []string{sm.GeoASN}) {
		t.Errorf("ASN CSV: %+v", asn)
	}
	list := byName["tor-exit-addresses"]
	if list.Format != FormatTorExitAddresses || list.Records != 2 || !list.DataDate.Equal(old) || list.RefreshInterval != 0 || list.Origin != tor {
		t.Errorf("Tor file: %+v", list)
	}
	for _, c := range []string{sm.GeoCountry, sm.GeoCity, sm.GeoASN, sm.GeoTor} {
		if !st.Has(c) {
			t.Errorf("capability %s missing", c)
		}
	}
	if st.Has(sm.GeoVPN) || st.Feeds != true {
		t.Errorf("status = %+v", st)
	}
}

// BenchmarkParseFeed measures a refresh's parse of feeds of real sizes
// (AWS ip-ranges.json has about 10,000 entries; FireHOL level 1 about 4,500).
func BenchmarkParseFeed(b *testing.B) {
	var aws, plain strings.Builder
	aws.WriteString(`{"syncToken":"1","createDate":"2024-05-01-10-40-00","prefixes":[`)
	for i := range 10000 {
		if i > 0 {
			aws.WriteString(",")
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{3, byte(i >> 8), byte(i), 0}), 24)
		aws.WriteString(`{"ip_prefix":"` + p.String() + `","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"}`)
		plain.WriteString(p.String() + "\n")
	}
	aws.WriteString(`],"ipv6_prefixes":[]}`)
	for _, c := range []struct{ name, data string }{{"aws-json-10k", aws.String()}, {"plain-10k", plain.String()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if fd, err := parseFeed([]byte(c.data)); err != nil || len(fd.prefixes) != 10000 {
					b.Fatal(len(fd.prefixes), err)
				}
			}
		})
	}
}

// TestRunRefreshesOnSchedule: Run downloads a feed again when its interval
// has passed on the resolver's clock, with a conditional GET, and picks up
// a changed list.
func TestRunRefreshesOnSchedule(t *testing.T) {
	fs, srv := newFeedServer(t, map[string]string{"/tor": "1.1.1.1\n"})
	feeds := oneFeed(srv, "/tor", KindTor)
	feeds[0].Refresh = time.Hour
	clock := sm.NewManualClock(time.Now())
	r := openResolver(t, Config{Feeds: feeds, CacheDir: t.TempDir(), HTTPClient: srv.Client(), Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// nextRound passes one interval (+10% jitter) once Run waits on its
	// file-reload ticker and its download timer again.
	nextRound := func() {
		if !clock.WaitTimers(2) {
			t.Fatal("Run is not waiting on the clock")
		}
		clock.Advance(time.Hour + 7*time.Minute)
	}
	testenv.Eventually(t, "the first download", func() bool { return len(fs.reqs("/tor")) == 1 })
	nextRound()
	testenv.Eventually(t, "the second download", func() bool { return len(fs.reqs("/tor")) == 2 })
	if reqs := fs.reqs("/tor"); reqs[1].Header.Get("If-None-Match") == "" {
		t.Fatal("the second download is not a conditional one")
	}
	fs.set("/tor", 200, "1.1.1.2\n")
	nextRound()
	testenv.Eventually(t, "the changed list", func() bool { return lookup(t, r, "1.1.1.2").Threat.Tor })
	if lookup(t, r, "1.1.1.1").Threat.Tor || len(fs.reqs("/tor")) != 3 {
		t.Fatalf("after the third round: old entry still listed or %d downloads, want 3", len(fs.reqs("/tor")))
	}
}

// TestSlowDownloadDoesNotDelayFileReloads: a feed server that hangs keeps
// neither the other feeds nor the reload of local files waiting.
func TestSlowDownloadDoesNotDelayFileReloads(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fs, fast := newFeedServer(t, map[string]string{"/vpn": "45.83.220.0/22\n"})
	pool := slow.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	pool.AddCert(fast.Certificate())
	dir := t.TempDir()
	tor := filepath.Join(dir, "tor.txt")
	writeFile(t, tor, "185.220.101.1\n")
	r := openResolver(t, Config{
		TorExits: []string{tor}, ReloadInterval: 10 * time.Millisecond, HTTPClient: slow.Client(),
		Feeds: []Feed{{Name: "hangs", Kind: KindTor, URL: slow.URL + "/x", Refresh: time.Hour}, oneFeed(fast, "/vpn", KindVPN)[0]},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	writeFile(t, tor, "185.220.101.2\n")
	bumpMtime(t, tor, time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for !(lookup(t, r, "185.220.101.2").Threat.Tor && lookup(t, r, "45.83.221.1").Threat.VPN) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !lookup(t, r, "185.220.101.2").Threat.Tor {
		t.Error("file reload waited for a hanging download")
	}
	if !lookup(t, r, "45.83.221.1").Threat.VPN || len(fs.reqs("/vpn")) != 1 {
		t.Error("a feed waited for another feed's hanging download")
	}
}

// TestFeedUsedWhenCacheCannotBeWritten: a good download is used even when
// its copy cannot be kept (disk full, bad cache dir); the status says so.
func TestFeedUsedWhenCacheCannotBeWritten(t *testing.T) {
	_, srv := newFeedServer(t, map[string]string{"/tor": "1.1.1.1\n"})
	notADir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notADir, "x")
	r := openResolver(t, Config{Feeds: oneFeed(srv, "/tor", KindTor), CacheDir: notADir, HTTPClient: srv.Client()})
	r.RefreshLists(context.Background())
	st := r.GeoStatus().Sources[0]
	if !lookup(t, r, "1.1.1.1").Threat.Tor || st.Records != 1 || !strings.HasPrefix(st.LastError, "cache: ") {
		t.Fatalf("status %+v", st)
	}
}

// TestSameContentWithoutValidators: a server that ignores conditional GETs
// and sends the same list again confirms the copy without a rewrite.
func TestSameContentWithoutValidators(t *testing.T) {
	ls := &listServer{status: 200, body: "1.1.1.1\n"}
	srv := httptest.NewTLSServer(ls)
	defer srv.Close()
	cache := t.TempDir()
	r := openResolver(t, Config{Feeds: oneFeed(srv, "/tor", KindTor), CacheDir: cache, HTTPClient: srv.Client()})
	r.RefreshLists(context.Background())
	copies, _ := filepath.Glob(filepath.Join(cache, "*.list"))
	if len(copies) != 1 {
		t.Fatalf("copies %v", copies)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(copies[0], old, old); err != nil {
		t.Fatal(err)
	}
	first := r.GeoStatus().Sources[0].DataDate
	time.Sleep(5 * time.Millisecond)
	r.RefreshLists(context.Background())
	st, _ := os.Stat(copies[0])
	if got := r.GeoStatus().Sources[0]; !got.DataDate.After(first) || got.LastError != "" || !st.ModTime().Equal(old) {
		t.Fatalf("status %+v, copy mtime %v (want untouched %v)", got, st.ModTime(), old)
	}
}
