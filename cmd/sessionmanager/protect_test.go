package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// The places of the session-protection tests: two networks of one German
// carrier (one AS), a London ISP, and two exits of one VPN provider in
// the Netherlands and New York; and two browsers.
const (
	carrierA   = "5.9.1.1"
	carrierB   = "5.10.7.7"
	londonIP   = "81.2.69.160"
	vpnAmsIP   = "45.83.220.7"
	vpnNYIP    = "45.83.224.9"
	androidUA  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
	macChrome  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	winFirefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
)

// protectionInstances starts two servers on one Postgres schema and one
// Redis, with the Advanced licence, a city and an ASN database, a VPN list
// and the test client as trusted proxy.
func protectionInstances(t *testing.T) (a, b *server) {
	t.Helper()
	dir := t.TempDir()
	city := geotest.WriteDB(t, dir, "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"5.9.0.0/16":     geotest.CityRec("DE", "Germany", "Bavaria", "Munich", 48.137, 11.575, "Europe/Berlin"),
		"5.10.0.0/16":    geotest.CityRec("DE", "Germany", "Bavaria", "Munich", 48.137, 11.575, "Europe/Berlin"),
		"81.2.69.0/24":   geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
		"45.83.220.0/22": geotest.CityRec("NL", "Netherlands", "North Holland", "Amsterdam", 52.37, 4.89, "Europe/Amsterdam"),
		"45.83.224.0/22": geotest.CityRec("US", "United States", "New York", "New York", 40.71, -74.0, "America/New_York"),
	})
	asn := geotest.WriteDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{
		"5.9.0.0/16":     geotest.ASNRec(3320, "Deutsche Telekom AG"),
		"5.10.0.0/16":    geotest.ASNRec(3320, "Deutsche Telekom AG"),
		"81.2.69.0/24":   geotest.ASNRec(2856, "British Telecommunications PLC"),
		"45.83.220.0/22": geotest.ASNRec(9009, "M247 Europe SRL"),
		"45.83.224.0/22": geotest.ASNRec(9009, "M247 Europe SRL"),
	})
	vpn := filepath.Join(dir, "vpn.txt")
	if err := os.WriteFile(vpn, []byte("45.83.220.0/22\n45.83.224.0/22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shared := map[string]string{"DATABASE_URL": testenv.PostgresSchema(t), "SESSION_ENCRYPTION_KEY": token.GenerateKey(),
		"REDIS_URL": testenv.RedisURL(t), "SM_REDIS_PREFIX": testenv.Name("msmprotect:") + ":", "SM_LOG_LEVEL": "warn",
		"SM_GEOIP_DB": city + "," + asn, "SM_THREAT_FEEDS": "off", "SM_VPN_RANGES": vpn, "SM_TRUSTED_PROXIES": "127.0.0.1",
		"LICENSE_KEY": testLicense(t, license.EditionAdvanced)}
	a = startServer(t, maps.Clone(shared))
	b = startServer(t, maps.Clone(shared))
	return a, b
}

// signIn registers (once) and signs user in from ip with ua; it returns
// the login answer (jwt, refreshToken, session).
func signIn(t *testing.T, s *server, user, ip, ua string) map[string]any {
	t.Helper()
	pw := "correct horse battery"
	s.callAs(ip, ua, "POST", "/api/auth/local/register", "", map[string]any{"username": user, "email": user + "@example.com", "password": pw})
	code, _, l := s.callAs(ip, ua, "POST", "/api/auth/local", "", map[string]any{"identifier": user, "password": pw})
	if code != 200 {
		t.Fatalf("login of %s: %d %v", user, code, l)
	}
	return l
}

// anomalies are the session.anomaly events of a session, newest first.
func anomalies(t *testing.T, s *server, sid string) []map[string]any {
	t.Helper()
	_, _, out := s.call("GET", "/api/admin/audit?type=session.anomaly", s.adminToken("read"), nil)
	var got []map[string]any
	for _, e := range out["data"].([]any) {
		ev := e.(map[string]any)
		if ev["sessionId"] == sid {
			got = append(got, ev)
		}
	}
	return got
}

// signalsOf lists the signal codes of a session.anomaly event.
func signalsOf(t *testing.T, ev map[string]any) (codes []string, action string) {
	t.Helper()
	raw, _ := json.Marshal(ev["data"])
	var d struct {
		Signals []struct{ Code string } `json:"signals"`
		Action  string                  `json:"action"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("anomaly data %s: %v", raw, err)
	}
	for _, s := range d.Signals {
		codes = append(codes, s.Code)
	}
	return codes, d.Action
}

// TestSessionProtectionOverHTTP runs the three cases on two real
// instances sharing PostgreSQL and Redis.
func TestSessionProtectionOverHTTP(t *testing.T) {
	a, b := protectionInstances(t)

	t.Run("replayed refresh token from another device and country ends the session everywhere", func(t *testing.T) {
		l := signIn(t, a, "hanna", carrierA, macChrome)
		sid, jwt := str(l["session"].(map[string]any), "id"), str(l, "jwt")
		for _, s := range []*server{a, b} { // both instances hold the session live
			if code, _, out := s.callAs(carrierA, macChrome, "GET", "/api/auth/verify", jwt, nil); code != 200 {
				t.Fatalf("verify before: %d %v", code, out)
			}
		}
		// The thief replays the copied refresh token on B, from London, in Firefox on Windows.
		code, _, out := b.callAs(londonIP, winFirefox, "POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(l, "refreshToken")})
		if code != 401 || errReason(out) != "hijack_suspected" {
			t.Fatalf("replayed refresh: %d %v", code, out)
		}
		// Ended on every instance: the owner's access token and the refresh
		// token are refused with the reason, from the owner's own place.
		for name, s := range map[string]*server{"A": a, "B": b} {
			deadline := time.Now().Add(5 * time.Second)
			for {
				code, h, _ := s.callAs(carrierA, macChrome, "GET", "/api/auth/verify", jwt, nil)
				if code == 401 && h.Get("X-Session-Terminated-Reason") == "hijack_suspected" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s still answers %d (%q) for the hijacked session", name, code, h.Get("X-Session-Terminated-Reason"))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if code, _, out := s.callAs(carrierA, macChrome, "POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(l, "refreshToken")}); code != 401 || errReason(out) != "hijack_suspected" {
				t.Fatalf("%s refresh after the end: %d %v", name, code, out)
			}
		}
		_, _, got := a.call("GET", "/api/admin/sessions/"+sid, a.adminToken("read"), nil)
		sess := got["data"].(map[string]any)
		if sess["status"] != "ended" || sess["endReason"] != "hijack_suspected" {
			t.Fatalf("session after the replay: %v", sess)
		}
		evs := anomalies(t, a, sid)
		if len(evs) != 1 {
			t.Fatalf("session.anomaly events: %v", evs)
		}
		codes, action := signalsOf(t, evs[0])
		if action != "terminate" || codes[0] != "session_device_change" || !slices.Contains(codes, "session_country_change") {
			t.Fatalf("anomaly: %v %s", codes, action)
		}
	})

	t.Run("a phone moving between two networks of its carrier is not flagged", func(t *testing.T) {
		l := signIn(t, a, "pia", carrierA, androidUA)
		sid, jwt := str(l["session"].(map[string]any), "id"), str(l, "jwt")
		refresh := str(l, "refreshToken")
		for i, ip := range []string{carrierB, carrierA, carrierB} {
			s := []*server{a, b}[i%2]
			if code, _, out := s.callAs(ip, androidUA, "GET", "/api/auth/verify", jwt, nil); code != 200 {
				t.Fatalf("request %d from %s: %d %v", i, ip, code, out)
			}
			code, _, out := s.callAs(ip, androidUA, "POST", "/api/auth/refresh", "", map[string]any{"refreshToken": refresh})
			if code != 200 {
				t.Fatalf("refresh %d from %s: %d %v", i, ip, code, out)
			}
			refresh, jwt = str(out, "refreshToken"), str(out, "jwt")
		}
		if evs := anomalies(t, a, sid); len(evs) != 0 {
			t.Fatalf("a carrier's two networks were flagged: %v", evs)
		}
		_, _, got := a.call("GET", "/api/admin/sessions/"+sid, a.adminToken("read"), nil)
		if sess := got["data"].(map[string]any); sess["status"] == "ended" || str(sess, "suspected") != "" {
			t.Fatalf("session: %v", sess)
		}
	})

	t.Run("a VPN user is judged by the VPN rule, not as impossible travel", func(t *testing.T) {
		l := signIn(t, a, "vic", carrierA, macChrome)
		sid, jwt := str(l["session"].(map[string]any), "id"), str(l, "jwt")
		// Munich, then a New York VPN exit seconds later: the VPN policy
		// (default alert) judges it; the exit's place is no travel.
		if code, _, out := b.callAs(vpnNYIP, macChrome, "GET", "/api/auth/verify", jwt, nil); code != 200 {
			t.Fatalf("request over the VPN: %d %v", code, out)
		}
		// Another exit of the same provider: the same network, nothing new.
		// (Same instance: each instance judges from its own memory of the
		// session's last place until the trail reaches the store.)
		if code, _, out := b.callAs(vpnAmsIP, macChrome, "GET", "/api/auth/verify", jwt, nil); code != 200 {
			t.Fatalf("request over the second exit: %d %v", code, out)
		}
		evs := anomalies(t, a, sid)
		if len(evs) != 1 {
			t.Fatalf("session.anomaly events: %v", evs)
		}
		codes, action := signalsOf(t, evs[0])
		if !slices.Equal(codes, []string{"session_ip_change"}) || action != "alert" {
			t.Fatalf("VPN move: %v %s", codes, action)
		}
		// The control: the same jump off a VPN (Munich -> London in
		// seconds) is impossible travel.
		l2 := signIn(t, a, "vic", carrierA, macChrome)
		sid2 := str(l2["session"].(map[string]any), "id")
		if code, _, out := a.callAs(londonIP, macChrome, "GET", "/api/auth/verify", str(l2, "jwt"), nil); code != 200 {
			t.Fatalf("request from London: %d %v", code, out)
		}
		evs = anomalies(t, a, sid2)
		if len(evs) != 1 {
			t.Fatalf("session.anomaly events of the control: %v", evs)
		}
		if codes, _ := signalsOf(t, evs[0]); !slices.Contains(codes, "session_impossible_travel") {
			t.Fatalf("Munich -> London in seconds without a VPN: %v", codes)
		}
	})
}
