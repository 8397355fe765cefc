package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/magic-sessionmanager/sessionmanager/alert"
	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// receiver is a real HTTP webhook receiver that checks signatures.
type receiver struct {
	mu     sync.Mutex
	alerts []alert.Alert
	bad    int
	secret []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := alert.VerifySignature(rc.secret, r.Header.Get(alert.HeaderTimestamp), body, r.Header.Get(alert.HeaderSignature), time.Now(), 5*time.Minute); err != nil {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var a alert.Alert
	if err := json.Unmarshal(body, &a); err != nil {
		rc.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.alerts = append(rc.alerts, a)
}

// waitAlert waits until an alert of the event type arrives.
func (rc *receiver) waitAlert(t *testing.T, typ string) alert.Alert {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		for i, a := range rc.alerts {
			if a.Type == typ {
				rc.alerts = append(rc.alerts[:i], rc.alerts[i+1:]...)
				rc.mu.Unlock()
				return a
			}
		}
		rc.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s alert arrived", typ)
	return alert.Alert{}
}

// callFrom is call with an X-Forwarded-For client address (and a
// desktop Firefox's user agent).
func (s *server) callFrom(ip, method, path, bearer string, body any) (int, map[string]any) {
	s.t.Helper()
	code, _, out := s.callAs(ip, "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", method, path, bearer, body)
	return code, out
}

// TestFirewallAndAlertsOverHTTP: a Tor exit list file and a test .mmdb; a
// Tor login is blocked when the policy says block and only alerted when it
// says alert; a login from a blocked country gets 403 and leaves a
// login.blocked event; the alerts reach a real receiver, signed.
func TestFirewallAndAlertsOverHTTP(t *testing.T) {
	dir := t.TempDir()
	city := geotest.WriteDB(t, dir, "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24":     geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
		"5.9.0.0/16":       geotest.CityRec("DE", "Germany", "Saxony", "Falkenstein", 50.4779, 12.3713, "Europe/Berlin"),
		"185.220.101.0/24": geotest.CityRec("DE", "Germany", "Berlin", "Berlin", 52.52, 13.405, "Europe/Berlin"),
	})
	tor := filepath.Join(dir, "tor-exits.txt")
	if err := os.WriteFile(tor, []byte("# Tor exits\n185.220.101.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{secret: []byte("whsec-test-secret")}
	hook := httptest.NewServer(rc)
	defer hook.Close()

	s := startServer(t, map[string]string{"SM_GEOIP_DB": city, "SM_TOR_EXITS": tor, "SM_TRUSTED_PROXIES": "127.0.0.1",
		"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	write := s.adminToken("write")
	code, _, body := s.call("POST", "/api/admin/alerts/rules", write, map[string]any{
		"name": "security", "enabled": true, "triggers": []string{"tor", "login_blocked", "new_country"},
		"channels": []map[string]any{{"type": "webhook", "url": hook.URL + "/hook", "secret": string(rc.secret)}},
	})
	if code != 201 {
		t.Fatalf("create rule: %d %v", code, body)
	}
	if code, reg := s.callFrom("81.2.69.160", "POST", "/api/auth/local/register", "", map[string]any{"username": "tess", "email": "tess@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, reg)
	}
	login := map[string]any{"identifier": "tess", "password": "correct horse battery"}

	// Default policy: Tor is blocked.
	code, out := s.callFrom("185.220.101.1", "POST", "/api/auth/local", "", login)
	if code != 403 || errReason(out) != "tor" {
		t.Fatalf("Tor login with block policy: %d %v", code, out)
	}
	a := rc.waitAlert(t, "login.blocked")
	if !a.Threat.Tor || a.User.Email != "tess@example.com" {
		t.Errorf("blocked alert: %+v", a)
	}

	// Alert only: the login goes through, the session records the threat.
	if code, _, out := s.call("PUT", "/api/admin/settings", write, `{"actions":{"tor":"alert"}}`); code != 200 {
		t.Fatalf("settings: %d %v", code, out)
	}
	code, out = s.callFrom("185.220.101.1", "POST", "/api/auth/local", "", login)
	if code != 200 {
		t.Fatalf("Tor login with alert policy: %d %v", code, out)
	}
	a = rc.waitAlert(t, "login.succeeded")
	if !a.Threat.Tor {
		t.Errorf("alert without the Tor flag: %+v", a)
	}
	sid := str(out["session"].(map[string]any), "id")
	_, _, got := s.call("GET", "/api/admin/sessions/"+sid, write, nil)
	sess := got["data"].(map[string]any)
	threat, _ := sess["threat"].(map[string]any)
	if threat["tor"] != true || sess["score"].(float64) >= 100 || len(sess["reasons"].([]any)) == 0 {
		t.Errorf("session does not record the threat and score: %v", sess)
	}
	loc := sess["location"].(map[string]any)
	if loc["countryCode"] != "DE" || loc["flag"] != "🇩🇪" {
		t.Errorf("session location: %v", loc)
	}

	// Geo-fence: a blocked country gets 403 and a login.blocked event.
	if code, _, out := s.call("PUT", "/api/admin/settings", write, `{"blockedCountries":["de"]}`); code != 200 {
		t.Fatalf("geo-fence: %d %v", code, out)
	}
	code, out = s.callFrom("5.9.10.11", "POST", "/api/auth/local", "", login)
	if code != 403 || errReason(out) != "geofence" {
		t.Fatalf("blocked country: %d %v", code, out)
	}
	_, _, audit := s.call("GET", "/api/admin/audit?type=login.blocked", write, nil)
	events := audit["data"].([]any)
	if len(events) != 2 || events[0].(map[string]any)["country"] != "DE" {
		t.Errorf("login.blocked events: %v", events)
	}
	// London still works.
	if code, out := s.callFrom("81.2.69.160", "POST", "/api/auth/local", "", login); code != 200 {
		t.Errorf("allowed country: %d %v", code, out)
	}
	rc.mu.Lock()
	if rc.bad != 0 {
		t.Errorf("%d webhook requests failed signature or shape checks", rc.bad)
	}
	rc.mu.Unlock()
	// The admin geo lookup endpoint answers, and refuses a bad address.
	if code, _, out := s.call("GET", "/api/admin/geo/81.2.69.160", write, nil); code != 200 || out["data"].(map[string]any)["location"].(map[string]any)["city"] != "London" {
		t.Errorf("geo lookup: %d %v", code, out)
	}
	if code, _, _ := s.call("GET", "/api/admin/geo/not-an-ip", write, nil); code != 400 {
		t.Errorf("bad geo lookup: %d", code)
	}
}

// TestFreeEditionThenActivation: without a licence the product runs as
// Free (IP only, no blocking); a licence set through the admin API unlocks
// geo and blocking on the next login, and the earlier record is kept.
func TestFreeEditionThenActivation(t *testing.T) {
	dir := t.TempDir()
	city := geotest.WriteDB(t, dir, "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24":     geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
		"185.220.101.0/24": geotest.CityRec("DE", "Germany", "Berlin", "Berlin", 52.52, 13.405, "Europe/Berlin"),
	})
	tor := filepath.Join(dir, "tor-exits.txt")
	if err := os.WriteFile(tor, []byte("185.220.101.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := testLicense(t, license.EditionAdvanced)
	s := startServer(t, map[string]string{"SM_GEOIP_DB": city, "SM_TOR_EXITS": tor, "SM_TRUSTED_PROXIES": "127.0.0.1"})
	write := s.adminToken("write")
	_, _, info := s.call("GET", "/api/admin/license", write, nil)
	if d := info["data"].(map[string]any); d["edition"] != "free" {
		t.Fatalf("no licence should run as Free: %v", d)
	}
	code, reg := s.callFrom("185.220.101.1", "POST", "/api/auth/local/register", "", map[string]any{"username": "free", "email": "free@example.com", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("Free edition does not block Tor: %d %v", code, reg)
	}
	first := str(reg["session"].(map[string]any), "id")
	_, _, got := s.call("GET", "/api/admin/sessions/"+first, write, nil)
	sess := got["data"].(map[string]any)
	if loc := sess["location"].(map[string]any); len(loc) != 0 || sess["ip"] != "185.220.101.1" || sess["score"].(float64) != 100 {
		t.Fatalf("Free edition must show the IP only: %v", sess)
	}
	if code, _, out := s.call("PUT", "/api/admin/license", write, map[string]any{"key": "MSM1.garbage.x"}); code != 400 {
		t.Errorf("bad licence: %d %v", code, out)
	}
	if code, _, out := s.call("PUT", "/api/admin/license", write, map[string]any{"key": key}); code != 200 || out["data"].(map[string]any)["edition"] != "advanced" {
		t.Fatalf("activate: %d %v", code, out)
	}
	code, out := s.callFrom("185.220.101.1", "POST", "/api/auth/local", "", map[string]any{"identifier": "free", "password": "correct horse battery"})
	if code != 403 || errReason(out) != "tor" {
		t.Errorf("after activation Tor is blocked: %d %v", code, out)
	}
	code, out = s.callFrom("81.2.69.160", "POST", "/api/auth/local", "", map[string]any{"identifier": "free", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	_, _, got = s.call("GET", "/api/admin/sessions/"+str(out["session"].(map[string]any), "id"), write, nil)
	if loc := got["data"].(map[string]any)["location"].(map[string]any); loc["city"] != "London" {
		t.Errorf("after activation the location is recorded: %v", loc)
	}
	if code, _, _ := s.call("GET", "/api/admin/sessions/"+first, write, nil); code != 200 {
		t.Error("the Free-edition session is gone")
	}
}
