package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// The end user's browser in the challenge tests, and a VPN address
// (SM_VPN_RANGES) and a clean one, both behind the trusted proxy.
const (
	challengeUA = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
	vpnIP       = "45.83.220.7"
	homeIP      = "5.9.1.1"
)

var codePattern = regexp.MustCompile(`code is:\s+(\d{6})`)

// challengeServer runs the real server with a VPN list, a real SMTP
// mailbox (email codes and magic links), the Advanced licence and the VPN
// policy set to challenge; it returns the server, its mailbox and a user
// whose email is confirmed (by the confirmation link).
func challengeServer(t *testing.T, env map[string]string) (*server, *mailbox, string) {
	t.Helper()
	vpn := filepath.Join(t.TempDir(), "vpn.txt")
	if err := os.WriteFile(vpn, []byte("45.83.220.0/22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = map[string]string{}
	}
	env["SM_THREAT_FEEDS"] = "off"
	env["SM_VPN_RANGES"] = vpn
	env["SM_TRUSTED_PROXIES"] = "127.0.0.1"
	env["SM_MAGIC_LINK_PER_IP"] = "1000"
	env["LICENSE_KEY"] = testLicense(t, license.EditionAdvanced)
	env["SM_EMAIL_CONFIRMATION_URL"] = confirmBase
	s, box := startMagicServer(t, env)
	s.register(t, "vera")
	tok := tokenIn(t, box.waitFor(t, "vera@example.com"), confirmPattern, "confirmation")
	if code, _, body := s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(tok)); code != 302 {
		t.Fatalf("confirm: %d %v", code, body)
	}
	if code, _, body := s.call("PUT", "/api/admin/settings", s.adminToken("write"), `{"actions":{"vpn":"challenge"}}`); code != 200 {
		t.Fatalf("settings: %d %v", code, body)
	}
	return s, box, "vera@example.com"
}

// callAs is a JSON request from ip (X-Forwarded-For) with user agent ua.
func (s *server) callAs(ip, ua, method, path, bearer string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.base+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set("User-Agent", ua)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

// challengedLogin signs in from the VPN and returns the pending challenge
// of the 401.
func challengedLogin(t *testing.T, s *server) map[string]any {
	t.Helper()
	code, h, body := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": "vera", "password": "correct horse battery"})
	if code != 401 || errReason(body) != "challenge_required" {
		_, _, st := s.call("GET", "/api/admin/settings", s.adminToken("read"), nil)
		sess, _ := body["session"].(map[string]any)
		_, _, ses := s.call("GET", "/api/admin/sessions/"+str(sess, "id"), s.adminToken("read"), nil)
		t.Fatalf("VPN login: %d %v\n%v\n%v", code, body, st, ses)
	}
	if strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("a challenge is no invalid token: %q", h.Get("WWW-Authenticate"))
	}
	e, _ := body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	ch, _ := d["challenge"].(map[string]any)
	if str(ch, "id") == "" || str(ch, "expiresAt") == "" || str(e, "name") != "UnauthorizedError" || str(e, "message") != "Additional verification required" {
		t.Fatalf("challenge answer: %v", body)
	}
	if m, _ := ch["methods"].([]any); len(m) != 1 || m[0] != "email" {
		t.Fatalf("methods: %v", ch["methods"])
	}
	return ch
}

// sendCode asks for the email code of a challenge and reads it from the
// delivered email.
func sendCode(t *testing.T, s *server, box *mailbox, id, to string) string {
	t.Helper()
	code, _, body := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": id, "method": "email"})
	if code != 200 || body["sent"] != true {
		t.Fatalf("send: %d %v", code, body)
	}
	m := codePattern.FindStringSubmatch(box.waitFor(t, to).Body)
	if m == nil {
		t.Fatal("no code in the email")
	}
	return m[1]
}

func verify(s *server, ip, ua, id, code string) (int, map[string]any) {
	c, _, body := s.callAs(ip, ua, "POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": id, "method": "email", "code": code})
	return c, body
}

// TestChallengeEmailEndToEnd: a VPN login under a challenge policy gets the
// 401 and no session; the code arrives through the real SMTP server; the
// verify answer is the login's, and the session and its token say how it
// was proven (amr pwd+otp+mfa, acr 2). The same code, replayed, is refused.
func TestChallengeEmailEndToEnd(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			var env map[string]string
			if store == "postgres" {
				env = postgresEnv(t)
			}
			s, box, email := challengeServer(t, env)
			read := s.adminToken("read")
			_, _, before := s.call("GET", "/api/admin/sessions?status=active", read, nil)

			ch := challengedLogin(t, s)
			_, _, after := s.call("GET", "/api/admin/sessions?status=active", read, nil)
			if n, m := len(before["data"].([]any)), len(after["data"].([]any)); n != m {
				t.Fatalf("a challenged login opened a session: %d -> %d", n, m)
			}
			code := sendCode(t, s, box, str(ch, "id"), email)
			status, login := verify(s, vpnIP, challengeUA, str(ch, "id"), code)
			if status != 200 || str(login, "jwt") == "" || str(login, "refreshToken") == "" {
				t.Fatalf("verify: %d %v", status, login)
			}
			if u, _ := login["user"].(map[string]any); str(u, "email") != email {
				t.Fatalf("verify user: %v", login)
			}
			sid := str(login["session"].(map[string]any), "id")
			_, _, got := s.call("GET", "/api/admin/sessions/"+sid, read, nil)
			data, _ := got["data"].(map[string]any)
			if str(data, "acr") != "2" || strings.Join(strs(data["amr"]), " ") != "pwd otp mfa" || str(data, "authTime") == "" || str(data, "authMethod") != "password" {
				t.Fatalf("session auth context: %v", data)
			}
			if th, _ := data["threat"].(map[string]any); th["vpn"] != true {
				t.Fatalf("session facts: %v", data)
			}
			// Introspection (RFC 7662) reports the proof too.
			svc := s.adminToken("service")
			code2, _, in := s.call("POST", "/api/auth/introspect", svc, map[string]any{"token": str(login, "jwt")})
			if code2 != 200 || in["active"] != true || str(in, "acr") != "2" || strings.Join(strs(in["amr"]), " ") != "pwd otp mfa" || in["auth_time"] == nil {
				t.Fatalf("introspection: %d %v", code2, in)
			}
			// A refresh keeps the proof in the new token.
			_, _, ref := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(login, "refreshToken")})
			_, _, in = s.call("POST", "/api/auth/introspect", svc, map[string]any{"token": str(ref, "jwt")})
			if str(in, "acr") != "2" {
				t.Fatalf("refreshed token lost the proof: %v", in)
			}

			// Replayed code: the challenge is spent.
			if status, body := verify(s, vpnIP, challengeUA, str(ch, "id"), code); status != 400 || errReason(body) != "challenge_used" {
				t.Fatalf("replayed code: %d %v", status, body)
			}
			// The audit log has the challenge's story.
			_, _, audit := s.call("GET", "/api/admin/audit?type=login.challenged", read, nil)
			if evs, _ := audit["data"].([]any); len(evs) != 1 {
				t.Fatalf("login.challenged events: %v", audit)
			}
			_, _, audit = s.call("GET", "/api/admin/audit?type=challenge.passed", read, nil)
			if evs, _ := audit["data"].([]any); len(evs) != 1 {
				t.Fatalf("challenge.passed events: %v", audit)
			}
			resp, err := http.Get(s.base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`msm_challenges_total{method="email",outcome="issued"} 1`, `msm_challenges_total{method="email",outcome="passed"} 1`} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// strs reads a JSON array of strings.
func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
