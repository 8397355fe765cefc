package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestBuiltinGeoOutOfTheBox runs the server with no geo variable: logins
// from public addresses (through a trusted proxy) get their country, flag
// and ASN/ISP from the built-in data, a hosting network is flagged
// datacenter, and a DE-only geo-fence refuses a Japanese address.
func TestBuiltinGeoOutOfTheBox(t *testing.T) {
	s := startServer(t, map[string]string{"SM_TRUSTED_PROXIES": "127.0.0.1/32", "LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	write := s.adminToken("write")
	if code, reg := s.callFrom("8.8.8.8", "POST", "/api/auth/local/register", "", map[string]any{"username": "gil", "email": "gil@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, reg)
	}
	login := map[string]any{"identifier": "gil", "password": "correct horse battery"}
	session := func(ip string) map[string]any {
		t.Helper()
		code, out := s.callFrom(ip, "POST", "/api/auth/local", "", login)
		if code != 200 {
			t.Fatalf("login from %s: %d %v", ip, code, out)
		}
		_, _, got := s.call("GET", "/api/admin/sessions/"+str(out["session"].(map[string]any), "id"), write, nil)
		return got["data"].(map[string]any)
	}

	for _, tc := range []struct {
		ip, cc, name, flag, isp string
		asn                     float64
		dc                      bool
	}{
		{"8.8.8.8", "US", "United States", "🇺🇸", "Google LLC", 15169, false},
		{"2001:4860:4860::8888", "US", "United States", "🇺🇸", "Google LLC", 15169, false},
		{"5.9.10.11", "DE", "Germany", "🇩🇪", "Hetzner Online GmbH", 24940, true},
	} {
		sess := session(tc.ip)
		loc, _ := sess["location"].(map[string]any)
		if loc["countryCode"] != tc.cc || loc["countryName"] != tc.name || loc["flag"] != tc.flag || loc["asn"] != tc.asn || loc["isp"] != tc.isp {
			t.Errorf("%s: location %v, want %s %s AS%v %q", tc.ip, loc, tc.cc, tc.flag, tc.asn, tc.isp)
		}
		threat, _ := sess["threat"].(map[string]any)
		if dc, _ := threat["datacenter"].(bool); dc != tc.dc {
			t.Errorf("%s: threat %v, want datacenter=%v", tc.ip, threat, tc.dc)
		}
	}

	// A DE-only allow list: Japan is refused, Germany still signs in.
	if code, _, out := s.call("PUT", "/api/admin/settings", write, `{"allowedCountries":["DE"]}`); code != 200 {
		t.Fatalf("geo-fence: %d %v", code, out)
	}
	if code, out := s.callFrom("133.242.0.1", "POST", "/api/auth/local", "", login); code != 403 || errReason(out) != "geofence" {
		t.Errorf("login from Japan with a DE-only fence: %d %v", code, out)
	}
	if code, out := s.callFrom("5.9.10.11", "POST", "/api/auth/local", "", login); code != 200 {
		t.Errorf("login from Germany with a DE-only fence: %d %v", code, out)
	}

	// The status names the built-in sources with their date and credits,
	// and no warning says country data is missing.
	code, _, body := s.call("GET", "/api/admin/geo/status", write, nil)
	data, _ := body["data"].(map[string]any)
	caps, _ := data["capabilities"].(map[string]any)
	if code != 200 || caps["country"] != true || caps["asn"] != true || caps["datacenter"] != true {
		t.Fatalf("geo status: %d %v", code, body)
	}
	found := 0
	for _, src := range data["sources"].([]any) {
		src := src.(map[string]any)
		switch str(src, "name") {
		case "builtin-country", "builtin-asn":
			found++
			if src["enabled"] != true || !strings.HasPrefix(str(src, "dataDate"), "2026-06-17") || str(src, "license") == "" || str(src, "attribution") == "" {
				t.Errorf("built-in source: %v", src)
			}
			if str(src, "name") == "builtin-asn" && str(src, "attributionUrl") != "https://db-ip.com" {
				t.Errorf("builtin-asn must link DB-IP: %v", src)
			}
		}
	}
	if found != 2 {
		t.Errorf("sources lack the built-in ones: %v", data["sources"])
	}
	if w := warningCodes(t, s, write); slices.Contains(w, "no_country_data") || slices.Contains(w, "geofence_no_country_data") {
		t.Errorf("country warnings with the built-in data on: %v", w)
	}

	// The admin lookup answers from the built-in data too.
	code, _, out := s.call("GET", "/api/admin/geo/2a01:4f8::1", write, nil)
	loc, _ := out["data"].(map[string]any)["location"].(map[string]any)
	if code != 200 || loc["countryCode"] != "DE" || loc["asn"] != float64(24940) {
		t.Errorf("admin geo lookup: %d %v", code, out)
	}
}

// TestBuiltinGeoOff: SM_GEO_BUILTIN=off leaves the location empty.
func TestBuiltinGeoOff(t *testing.T) {
	s := startServer(t, map[string]string{"SM_TRUSTED_PROXIES": "127.0.0.1/32", "SM_GEO_BUILTIN": "off", "LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	write := s.adminToken("write")
	code, _, out := s.call("GET", "/api/admin/geo/8.8.8.8", write, nil)
	data, _ := out["data"].(map[string]any)
	if loc, _ := data["location"].(map[string]any); code != 200 || len(loc) != 0 {
		t.Errorf("lookup with the built-in data off: %d %v", code, out)
	}
}

// TestBuiltBinaryGeoOutOfTheBox builds the real binary and runs it as a
// new user would (no geo variable, no network: feeds off): the admin lookup
// answers well-known public addresses from the built-in data, and the
// status lists the built-in sources with their attribution.
func TestBuiltBinaryGeoOutOfTheBox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := serviceBinary(t)
	addr, data := freePort(t), t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SM_ADDR=" + addr, "SM_DATA_DIR=" + data,
		"SM_ADMIN_PASSWORD=admin password for tests", "SESSION_ENCRYPTION_KEY=" + generateKey(), "SM_LOG_LEVEL=warn"}
	c := &svcChild{bin: bin, base: "http://" + addr, env: env}
	c.start(t)
	defer c.kill()
	mk := exec.Command(bin, "admin", "create-token", "--name", "geo", "--scope", "read")
	mk.Env = env
	out, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("admin create-token: %v\n%s", err, out)
	}
	tok := regexp.MustCompile(`msm_[A-Za-z0-9_-]+`).FindString(string(out))
	if tok == "" {
		t.Fatalf("no token in %q", out)
	}
	getJSON := func(path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("GET", c.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return body["data"].(map[string]any)
	}
	for _, tc := range []struct {
		ip, cc, isp string
		asn         float64
	}{
		{"8.8.8.8", "US", "Google LLC", 15169},
		{"2001:4860:4860::8888", "US", "Google LLC", 15169},
		{"5.9.10.11", "DE", "Hetzner Online GmbH", 24940},
	} {
		got := getJSON("/api/admin/geo/" + tc.ip)
		loc, _ := got["location"].(map[string]any)
		if got["found"] != true || loc["countryCode"] != tc.cc || loc["asn"] != tc.asn || loc["isp"] != tc.isp || loc["flag"] == "" {
			t.Errorf("%s: got %v, want %s AS%.0f %s with a flag", tc.ip, got, tc.cc, tc.asn, tc.isp)
		}
	}
	names := map[string]bool{}
	for _, s := range getJSON("/api/admin/geo/status")["sources"].([]any) {
		src := s.(map[string]any)
		if src["enabled"] == true && src["records"].(float64) > 0 {
			names[src["name"].(string)] = true
		}
	}
	for _, want := range []string{"builtin-country", "builtin-asn"} {
		if !names[want] {
			t.Errorf("status: %s is not an enabled source with records (have %v)", want, names)
		}
	}
}
