package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/client"
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
// whose email is confirmed (by the confirmation link), on store (sqlite or
// postgres).
func challengeServer(t *testing.T, store string) (*server, *mailbox, string) {
	t.Helper()
	var env map[string]string
	if store == "postgres" {
		env = postgresEnv(t)
	}
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

// pendingOf is details.challenge of a 401 challenge_required (nil when none).
func pendingOf(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	ch, _ := d["challenge"].(map[string]any)
	return ch
}

// callAs is a JSON request from ip (X-Forwarded-For) with user agent ua.
func (s *server) callAs(ip, ua, method, path, bearer string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	return s.callHeaders(map[string]string{"X-Forwarded-For": ip, "User-Agent": ua}, method, path, bearer, body)
}

// challengedLogin signs in from the VPN and returns the pending challenge
// of the 401.
func challengedLogin(t *testing.T, s *server) map[string]any {
	t.Helper()
	code, h, body := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": "vera", "password": "correct horse battery", "deviceId": "vera-laptop"})
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
	ch := pendingOf(body)
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
	stores(t, func(t *testing.T, store string) {
		s, box, email := challengeServer(t, store)
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
		if d := str(login["session"].(map[string]any), "deviceId"); d != "vera-laptop" {
			t.Fatalf("the session lost the login's deviceId: %q", d)
		}
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
		// A Go app verifying the token offline (package client) sees it too,
		// and can ask "proven in the last five minutes with a second factor?".
		c, err := client.New(client.Config{BaseURL: s.base})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := c.Verify(t.Context(), str(login, "jwt"))
		if err != nil || claims.ACR != "2" || strings.Join(claims.AMR, " ") != "pwd otp mfa" ||
			!sm.RecentAuth(claims.AuthContext, time.Now(), 5*time.Minute, sm.ACRMultiFactor) {
			t.Fatalf("client claims: %+v, %v", claims, err)
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
		// The session's login event says it was challenged and how it was proven.
		_, _, audit = s.call("GET", "/api/admin/audit?type=login.succeeded&session="+sid, read, nil)
		evs, _ := audit["data"].([]any)
		if len(evs) != 1 {
			t.Fatalf("login.succeeded of the session: %v", audit)
		}
		if d, _ := evs[0].(map[string]any)["data"].(map[string]any); str(d, "action") != "challenge" || str(d, "acr") != "2" {
			t.Fatalf("login.succeeded data: %v", d)
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

// confirmedUser registers name (which signs it in once: one session) and
// confirms its email by the link.
func confirmedUser(t *testing.T, s *server, box *mailbox, name string) {
	t.Helper()
	s.register(t, name)
	tok := tokenIn(t, box.waitFor(t, name+"@example.com"), confirmPattern, "confirmation")
	if code, _, body := s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(tok)); code != 302 {
		t.Fatalf("confirm %s: %d %v", name, code, body)
	}
}

// challengeOf signs name in from ip and returns the pending challenge id.
func challengeOf(t *testing.T, s *server, name, ip string) string {
	t.Helper()
	code, _, body := s.callAs(ip, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": name, "password": "correct horse battery"})
	ch := pendingOf(body)
	if code != 401 || str(ch, "id") == "" {
		t.Fatalf("login of %s from %s: %d %v", name, ip, code, body)
	}
	return str(ch, "id")
}

// codeFor asks for a challenge's code from ip and reads it from the email.
func codeFor(t *testing.T, s *server, box *mailbox, id, name, ip string) string {
	t.Helper()
	code, _, body := s.callAs(ip, challengeUA, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": id})
	if code != 200 {
		t.Fatalf("send: %d %v", code, body)
	}
	m := codePattern.FindStringSubmatch(box.waitFor(t, name+"@example.com").Body)
	if m == nil {
		t.Fatal("no code in the email")
	}
	return m[1]
}

// requireClosed checks that a challenge takes neither a proof (its right
// code) nor a code request, both answered 400 with reason.
func requireClosed(t *testing.T, s *server, ip, id, code, reason string) {
	t.Helper()
	if status, body := verify(s, ip, challengeUA, id, code); status != 400 || errReason(body) != reason {
		t.Fatalf("verify: %d %v, want 400 %s", status, body, reason)
	}
	if c, _, body := s.callAs(ip, challengeUA, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": id}); c != 400 || errReason(body) != reason {
		t.Fatalf("send: %d %v, want 400 %s", c, body, reason)
	}
}

// activeSessions counts the user's live sessions through the admin API.
func activeSessions(t *testing.T, s *server, name string) int {
	t.Helper()
	read := s.adminToken("read")
	_, _, users := s.call("GET", "/api/admin/users?q="+name, read, nil)
	list, _ := users["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("user %s: %v", name, users)
	}
	id := str(list[0].(map[string]any), "id")
	_, _, got := s.call("GET", "/api/admin/users/"+id+"/sessions?status=active", read, nil)
	all, _ := got["data"].([]any)
	return len(all)
}

// TestChallengeAbuse: each abuse of a challenge answers a clear 4xx and
// opens no session: the code of another challenge, five wrong codes (the
// fifth ends it, even for the right code after), made-up ids, a proof from
// another address or browser (ends it), a method that was not offered.
func TestChallengeAbuse(t *testing.T) {
	s, box, _ := challengeServer(t, "sqlite")
	for _, n := range []string{"cora", "wade", "ivan", "uma"} {
		confirmedUser(t, s, box, n)
	}
	// Each case signs in from its own VPN address: the wrong proofs of one
	// do not slow the next (the sign-in throttle counts them per address).

	t.Run("code of another challenge", func(t *testing.T) {
		const ip = "45.83.220.11"
		a, b := challengeOf(t, s, "cora", ip), challengeOf(t, s, "cora", ip)
		codeA := codeFor(t, s, box, a, "cora", ip)
		codeB := codeFor(t, s, box, b, "cora", ip)
		for codeA == codeB { // one chance in a million: ask again
			codeB = codeFor(t, s, box, b, "cora", ip)
		}
		if status, body := verify(s, ip, challengeUA, b, codeA); status != 400 || errReason(body) != "invalid_code" {
			t.Fatalf("code of another challenge: %d %v", status, body)
		}
		// A new code replaces the old one.
		old := codeB
		codeB = codeFor(t, s, box, b, "cora", ip)
		if old != codeB {
			if status, body := verify(s, ip, challengeUA, b, old); status != 400 || errReason(body) != "invalid_code" {
				t.Fatalf("replaced code: %d %v", status, body)
			}
		}
		if status, body := verify(s, ip, challengeUA, b, codeB); status != 200 {
			t.Fatalf("own code: %d %v", status, body)
		}
		if n := activeSessions(t, s, "cora"); n != 2 { // the sign-up's and this one
			t.Fatalf("cora has %d sessions, want 2", n)
		}
	})

	t.Run("five wrong codes end it", func(t *testing.T) {
		const ip = "45.83.220.12"
		id := challengeOf(t, s, "wade", ip)
		good := codeFor(t, s, box, id, "wade", ip)
		wrong := "000000"
		if good == wrong {
			wrong = "111111"
		}
		for i := 1; i <= 4; i++ {
			status, body := verify(s, ip, challengeUA, id, wrong)
			e, _ := body["error"].(map[string]any)
			d, _ := e["details"].(map[string]any)
			if status != 400 || errReason(body) != "invalid_code" || str(d, "attemptsLeft") != fmt.Sprint(5-i) {
				t.Fatalf("wrong code %d: %d %v", i, status, body)
			}
		}
		if status, body := verify(s, ip, challengeUA, id, wrong); status != 400 || errReason(body) != "challenge_failed" {
			t.Fatalf("fifth wrong code: %d %v", status, body)
		}
		requireClosed(t, s, ip, id, good, "challenge_failed") // even the right code
		if n := activeSessions(t, s, "wade"); n != 1 {        // the sign-up's
			t.Fatalf("wade has %d sessions", n)
		}
		_, _, audit := s.call("GET", "/api/admin/audit?type=challenge.failed", s.adminToken("read"), nil)
		if evs, _ := audit["data"].([]any); len(evs) < 5 {
			t.Fatalf("challenge.failed events: %d", len(evs))
		}
	})

	t.Run("made-up ids", func(t *testing.T) {
		const ip = "45.83.220.13"
		for _, id := range []string{"x", strings.Repeat("A", 43), "../../etc/passwd", "' OR 1=1 --"} {
			if status, body := verify(s, ip, challengeUA, id, "123456"); status != 400 || errReason(body) != "challenge_unknown" {
				t.Fatalf("id %q: %d %v", id, status, body)
			}
			if code, _, body := s.callAs(ip, challengeUA, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": id}); code != 400 || errReason(body) != "challenge_unknown" {
				t.Fatalf("send for id %q: %d %v", id, code, body)
			}
		}
		for _, bad := range []map[string]any{{}, {"challengeId": strings.Repeat("a", 200), "method": "email", "code": "1"}, {"challengeId": "x", "method": "email"}, {"challengeId": "x"}} {
			if code, _, body := s.callAs(ip, challengeUA, "POST", "/api/auth/challenge/verify", "", bad); code != 400 || body["error"] == nil {
				t.Fatalf("bad body %v: %d %v", bad, code, body)
			}
		}
	})

	t.Run("another address or browser", func(t *testing.T) {
		const ip = "45.83.220.14"
		id := challengeOf(t, s, "ivan", ip)
		good := codeFor(t, s, box, id, "ivan", ip)
		if status, body := verify(s, "45.83.220.99", challengeUA, id, good); status != 403 || errReason(body) != "challenge_client_mismatch" {
			t.Fatalf("another address: %d %v", status, body)
		}
		if status, body := verify(s, ip, challengeUA, id, good); status != 400 || errReason(body) != "challenge_failed" {
			t.Fatalf("after a proof from elsewhere: %d %v", status, body)
		}
		id = challengeOf(t, s, "ivan", ip)
		good = codeFor(t, s, box, id, "ivan", ip)
		c, _, body := s.callAs(ip, "curl/8.0", "POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": id, "method": "email", "code": good})
		if c != 403 || errReason(body) != "challenge_client_mismatch" {
			t.Fatalf("another browser: %d %v", c, body)
		}
		if n := activeSessions(t, s, "ivan"); n != 1 { // the sign-up's
			t.Fatalf("ivan has %d sessions", n)
		}
	})

	t.Run("password changed meanwhile", func(t *testing.T) {
		const ip = "45.83.220.16"
		confirmedUser(t, s, box, "pia")
		id := challengeOf(t, s, "pia", ip)
		good := codeFor(t, s, box, id, "pia", ip)
		// The owner, at home, changes the password before the code is used.
		c, _, home := s.callAs(homeIP, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": "pia", "password": "correct horse battery"})
		if c != 200 {
			t.Fatalf("home login: %d %v", c, home)
		}
		if c, _, b := s.callAs(homeIP, challengeUA, "POST", "/api/auth/change-password", str(home, "jwt"), map[string]any{
			"currentPassword": "correct horse battery", "password": "another horse battery", "passwordConfirmation": "another horse battery"}); c != 200 {
			t.Fatalf("change password: %d %v", c, b)
		}
		before := activeSessions(t, s, "pia")
		if status, body := verify(s, ip, challengeUA, id, good); status != 400 || errReason(body) != "invalid_credentials" {
			t.Fatalf("the old password's challenge: %d %v", status, body)
		}
		if n := activeSessions(t, s, "pia"); n != before {
			t.Fatalf("a session was opened: %d -> %d", before, n)
		}
	})

	t.Run("method not offered", func(t *testing.T) {
		const ip = "45.83.220.15"
		id := challengeOf(t, s, "uma", ip)
		c, _, body := s.callAs(ip, challengeUA, "POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": id, "method": "totp", "code": "123456"})
		if c != 400 || errReason(body) != "method_not_offered" {
			t.Fatalf("totp without TOTP: %d %v", c, body)
		}
		// Asking before any code was sent is a wrong proof, not a crash.
		if status, body := verify(s, ip, challengeUA, id, "123456"); status != 400 || errReason(body) != "code_not_sent" {
			t.Fatalf("no code sent: %d %v", status, body)
		}
	})
}

// TestChallengeParallelVerifiesOneSession: ten verifies of one challenge
// with the right code race; exactly one opens a session.
func TestChallengeParallelVerifiesOneSession(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		s, box, email := challengeServer(t, store)
		before := activeSessions(t, s, "vera")
		id := str(challengedLogin(t, s), "id")
		code := sendCode(t, s, box, id, email)
		type result struct {
			status int
			body   map[string]any
		}
		results := make(chan result, 10)
		start := make(chan struct{})
		for range 10 {
			go func() {
				<-start
				st, b := verify(s, vpnIP, challengeUA, id, code)
				results <- result{st, b}
			}()
		}
		close(start)
		ok := 0
		for range 10 {
			r := <-results
			switch {
			case r.status == 200:
				ok++
			case r.status == 400 && (errReason(r.body) == "challenge_used" || errReason(r.body) == "challenge_failed"):
			case r.status == 429: // the sign-in throttle: a burst on one account slows down
			default:
				t.Errorf("parallel verify: %d %v", r.status, r.body)
			}
		}
		if ok != 1 {
			t.Fatalf("%d verifies succeeded, want 1", ok)
		}
		if n := activeSessions(t, s, "vera"); n != before+1 {
			t.Fatalf("%d new sessions, want 1", n-before)
		}
	})
}

// TestChallengeExpires: a challenge and its code last ten minutes.
func TestChallengeExpires(t *testing.T) {
	d := manualClock()
	vpn := filepath.Join(t.TempDir(), "vpn.txt")
	if err := os.WriteFile(vpn, []byte("45.83.220.0/22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, box := startMagicServerOn(t, map[string]string{"SM_THREAT_FEEDS": "off", "SM_VPN_RANGES": vpn, "SM_TRUSTED_PROXIES": "127.0.0.1",
		"LICENSE_KEY": testLicense(t, license.EditionAdvanced), "SM_EMAIL_CONFIRMATION_URL": confirmBase}, d)
	confirmedUser(t, s, box, "vera")
	if code, _, body := s.call("PUT", "/api/admin/settings", s.adminToken("write"), `{"actions":{"vpn":"challenge"}}`); code != 200 {
		t.Fatalf("settings: %d %v", code, body)
	}
	id := str(challengedLogin(t, s), "id")
	code := sendCode(t, s, box, id, "vera@example.com")
	d.clock.Advance(10*time.Minute + time.Second)
	requireClosed(t, s, vpnIP, id, code, "challenge_expired")
	if n := activeSessions(t, s, "vera"); n != 1 { // the sign-up's
		t.Fatalf("%d sessions", n)
	}
}

// TestChallengeWithoutFactor: a user with no factor (an unconfirmed email,
// or only the email factor after a sign-in link; a sign-up) is blocked with challenge_unavailable by default, and let in (with the
// alert rules told) when challengeFallback is alert.
func TestChallengeWithoutFactor(t *testing.T) {
	s, box, _ := challengeServer(t, "sqlite")
	// A sign-in link proved the mailbox: an emailed code would prove it
	// again, so vera (email factor only) has nothing to answer with.
	tok := s.requestLink(t, box, "vera@example.com")
	if c, _, b := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok}); c != 403 || errReason(b) != "challenge_unavailable" {
		t.Fatalf("magic link from the VPN: %d %v", c, b)
	}
	s.register(t, "nell") // not confirmed: no email factor
	login := map[string]any{"identifier": "nell", "password": "correct horse battery"}
	code, _, body := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local", "", login)
	if code != 403 || errReason(body) != "challenge_unavailable" {
		t.Fatalf("no factor, fallback block: %d %v", code, body)
	}
	// A sign-up has no factor yet: refused, and no account is left behind.
	signup := map[string]any{"username": "zed", "email": "zed@example.com", "password": "correct horse battery"}
	if c, _, b := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local/register", "", signup); c != 403 || errReason(b) != "challenge_unavailable" {
		t.Fatalf("sign-up from the VPN: %d %v", c, b)
	}
	if c, _, b := s.call("GET", "/api/admin/users?q=zed", s.adminToken("read"), nil); c != 200 || len(b["data"].([]any)) != 0 {
		t.Fatalf("a refused sign-up left a user: %v", b)
	}
	if c, _, b := s.call("PUT", "/api/admin/settings", s.adminToken("write"), `{"challengeFallback":"alert"}`); c != 200 {
		t.Fatalf("settings: %d %v", c, b)
	}
	if c, _, b := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local", "", login); c != 200 || str(b, "jwt") == "" {
		t.Fatalf("no factor, fallback alert: %d %v", c, b)
	}
	if c, _, b := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local/register", "", signup); c != 200 {
		t.Fatalf("sign-up from the VPN, fallback alert: %d %v", c, b)
	}
	if c, _, b := s.call("PUT", "/api/admin/settings", s.adminToken("write"), `{"challengeFallback":"maybe"}`); c != 400 {
		t.Fatalf("bad fallback: %d %v", c, b)
	}
}

// TestChallengeExternalSession: a session registered by a trusted backend
// (POST /api/sessions, the Strapi plugin) is challenged like a login; the
// end user's browser (same IP and User-Agent, through the trusted proxy)
// finishes it at the verify route.
func TestChallengeExternalSession(t *testing.T) {
	s, box, _ := challengeServer(t, "sqlite")
	svc := s.adminToken("service")
	ext := map[string]any{"externalUserId": "strapi-7", "email": "eve@example.com", "username": "eve", "ip": vpnIP, "userAgent": challengeUA}
	code, _, body := s.call("POST", "/api/sessions", svc, ext)
	ch := pendingOf(body)
	if code != 401 || errReason(body) != "challenge_required" || str(ch, "id") == "" {
		t.Fatalf("challenged external session: %d %v", code, body)
	}
	otp := sendCode(t, s, box, str(ch, "id"), "eve@example.com")
	status, login := verify(s, vpnIP, challengeUA, str(ch, "id"), otp)
	if status != 200 || str(login, "jwt") == "" {
		t.Fatalf("verify: %d %v", status, login)
	}
	_, _, got := s.call("GET", "/api/admin/sessions/"+str(login["session"].(map[string]any), "id"), s.adminToken("read"), nil)
	data, _ := got["data"].(map[string]any)
	if str(data, "authMethod") != "external" || str(data, "acr") != "2" {
		t.Fatalf("external session after the challenge: %v", data)
	}
}
