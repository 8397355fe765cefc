package e2e

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	endian "encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// rfc6238 is an independent TOTP (RFC 6238: HMAC-SHA1, 30 s, 6 digits) of
// a base32 secret at t, written from the RFC, not the server's code.
func rfc6238(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		t.Fatalf("the TOTP secret %q: %v", secret, err)
	}
	var msg [8]byte
	endian.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (endian.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// TestBrowserAllFactorsTogether drives the real binary with one user who
// has every factor: an email code (confirmed address), TOTP with recovery
// codes, and a passkey made by Chromium's virtual authenticator. A login
// from a new device offers them strongest first (webauthn, totp, email);
// wrong proofs of different methods count against the same 5; a recovery
// code passes where totp is offered, once; the admin API and the
// dashboard's user page show the three factors, and the admin's reset
// removes them all (the next challenge offers only the email code).
func TestBrowserAllFactorsTogether(t *testing.T) {
	box := startMailbox(t)
	addr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	origin := "http://localhost:" + port
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, map[string]string{
		"SM_ADDR": addr, "SM_PUBLIC_URL": origin,
		"SMTP_URL": "smtp://" + box.addr + "?tls=none", "SM_ALERT_FROM": "Security <security@example.test>",
		"SM_EMAIL_CONFIRMATION_URL": "http://auth.example.test/api/auth/email-confirmation?confirmation="}))
	if code, _, out := s.call("PUT", "/api/admin/settings", s.adminToken("write"), map[string]any{"actions": map[string]any{"newDevice": "challenge"}}); code != 200 {
		t.Fatalf("settings: %d %v", code, out)
	}
	// Known device: Chrome on a Mac; the challenged logins come from Firefox on Windows.
	if code, _, out := s.request("", uaChromeMac, "POST", "/api/auth/local/register", "", map[string]any{"username": "zoe", "email": "zoe@example.com", "password": userPassword}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.base + "/api/auth/email-confirmation?confirmation=" + url.QueryEscape(box.take(t, confirmLink)))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("confirm the email: %v %v", resp, err)
	}
	resp.Body.Close()
	code, _, signedIn := s.request("", uaChromeMac, "POST", "/api/auth/local", "", map[string]any{"identifier": "zoe", "password": userPassword})
	jwt := str(signedIn, "jwt") // the sign-up's device: no challenge
	if code != 200 || jwt == "" {
		t.Fatalf("sign in from the sign-up's device: %d %v", code, signedIn)
	}

	// TOTP (a password login suffices: no strong factor yet).
	var enrol map[string]any
	code, _, enrol = s.call("POST", "/api/users/me/totp", jwt, nil)
	if code != 201 || str(enrol, "secret") == "" {
		t.Fatalf("begin TOTP: %d %v", code, enrol)
	}
	secret := str(enrol, "secret")
	code, _, confirmed := s.call("POST", "/api/users/me/totp/confirm", jwt, map[string]any{"code": rfc6238(t, secret, time.Now())})
	raw, _ := confirmed["recoveryCodes"].([]any)
	if code != 200 || len(raw) != 10 {
		t.Fatalf("confirm TOTP: %d %v", code, confirmed)
	}
	recovery := make([]string, len(raw))
	for i, c := range raw {
		recovery[i], _ = c.(string)
	}
	// A passkey now needs a multi-factor proof: a recovery code steps up.
	if code, _, out := s.call("POST", "/api/users/me/passkeys/options", jwt, nil); code != 401 || errReason(out) != "step_up_required" {
		t.Fatalf("passkey options on a password-only session of a TOTP user: %d %v", code, out)
	}
	code, _, up := s.call("POST", "/api/auth/step-up", jwt, map[string]any{"method": "recovery_code", "code": recovery[0]})
	if code != 200 || str(up, "acr") != "2" {
		t.Fatalf("step up with a recovery code: %d %v", code, up)
	}
	jwt = str(up, "jwt")
	browser := browsertest.Chrome(t)
	tab := newBrowserTab(t, browser, origin)
	opts := tab.api("POST", "/api/users/me/passkeys/options", jwt, nil)
	if reg := tab.api("POST", "/api/users/me/passkeys", jwt, map[string]any{"name": "zoe's key", "credential": tab.create(opts.Body)}); reg.Status != 201 {
		t.Fatalf("enrol a passkey: %+v (options %+v)", reg, opts)
	}

	// A new device: every factor offered, strongest first.
	// A passed challenge makes its device known: the logins after it come
	// from yet another browser.
	const ip = "81.2.69.160"
	ua := uaFirefoxWin
	challenged := func(want string) string {
		t.Helper()
		code, out := s.loginFrom(ip, ua, "zoe", userPassword)
		e, _ := out["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		ch, _ := d["challenge"].(map[string]any)
		methods := fmt.Sprint(ch["methods"])
		if code != 401 || errReason(out) != "challenge_required" || methods != want {
			t.Fatalf("login from a new device: %d %v, want methods %s", code, out, want)
		}
		return str(ch, "id")
	}
	verify := func(id string, proof map[string]any) (int, map[string]any) {
		t.Helper()
		proof["challengeId"] = id
		code, _, out := s.request(ip, ua, "POST", "/api/auth/challenge/verify", "", proof)
		return code, out
	}
	id := challenged("[webauthn totp email]")
	if code, _, out := s.request(ip, uaFirefoxWin, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": id, "method": "email"}); code != 200 {
		t.Fatalf("send the email code: %d %v", code, out)
	}
	emailed := box.take(t, codeMail)
	totpNow := rfc6238(t, secret, time.Now())
	wrong := func(c string) string { return fmt.Sprintf("%06d", (atoi(c)+500_000)%1_000_000) }
	// Four wrong proofs of three methods: one count.
	for i, p := range []map[string]any{
		{"method": "email", "code": wrong(emailed)},
		{"method": "totp", "code": wrong(totpNow)},
		{"method": "recovery_code", "code": "aaaaa-bbbbb"},
		{"method": "recovery_code", "code": recovery[0]}, // spent on the step-up
	} {
		code, out := verify(id, p)
		e, _ := out["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		if code != 400 || errReason(out) != "invalid_code" || fmt.Sprint(d["attemptsLeft"]) != fmt.Sprint(4-i) {
			t.Fatalf("wrong proof %d (%s): %d %v, want invalid_code with %d left", i+1, p["method"], code, out, 4-i)
		}
	}
	if code, out := verify(id, map[string]any{"method": "totp", "code": wrong(totpNow)}); code != 400 || errReason(out) != "challenge_failed" {
		t.Fatalf("the fifth wrong proof: %d %v", code, out)
	}
	if code, out := verify(id, map[string]any{"method": "email", "code": emailed}); code != 400 || errReason(out) != "challenge_failed" || str(out, "jwt") != "" {
		t.Fatalf("the right code after five wrong ones: %d %v", code, out)
	}

	// A recovery code passes where totp is offered, once.
	id = challenged("[webauthn totp email]")
	code, passed := verify(id, map[string]any{"method": "recovery_code", "code": recovery[1]})
	if code != 200 || str(passed, "jwt") == "" {
		t.Fatalf("a recovery code for a totp challenge: %d %v", code, passed)
	}
	ua = uaFirefoxLinux
	id = challenged("[webauthn totp email]")
	if code, out := verify(id, map[string]any{"method": "recovery_code", "code": recovery[1]}); code != 400 || errReason(out) != "invalid_code" {
		t.Fatalf("the same recovery code again: %d %v", code, out)
	}

	// The admin sees the three kinds, in the API and on the user page.
	userID := str(passed["user"].(map[string]any), "id")
	code, _, factors := s.call("GET", "/api/admin/users/"+userID+"/factors", s.adminToken("read"), nil)
	if got := fmt.Sprint(factors["data"]); code != 200 || got != "[map[count:8 method:recovery_code] map[count:1 method:totp] map[count:1 method:webauthn]]" {
		t.Fatalf("admin factors: %d %v", code, factors)
	}
	browserSignIn(t, browser, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])
	if err := chromedp.Do(browser, chromedp.Navigate(s.base+"/admin/users/"+userID), chromedp.WaitVisible(chromedp.ID("user-factors"))); err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("user-factors").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"recovery code", "totp", "webauthn"} {
		if !strings.Contains(strings.ReplaceAll(shown, "_", " "), m) {
			t.Fatalf("the user page's factors %q lack %s", shown, m)
		}
	}

	// The admin's reset removes all three: only the email code is left.
	if code, _, out := s.call("DELETE", "/api/admin/users/"+userID+"/factors", s.adminToken("write"), nil); code != 200 || fmt.Sprint(out["reset"]) != "10" {
		t.Fatalf("reset: %d %v, want 10 (8 codes, TOTP, a passkey)", code, out)
	}
	if code, _, factors := s.call("GET", "/api/admin/users/"+userID+"/factors", s.adminToken("read"), nil); code != 200 || fmt.Sprint(factors["data"]) != "[]" {
		t.Fatalf("admin factors after the reset: %d %v", code, factors)
	}
	id = challenged("[email]") // Firefox on Linux never passed
	if code, out := verify(id, map[string]any{"method": "recovery_code", "code": recovery[2]}); code != 400 || errReason(out) != "method_not_offered" {
		t.Fatalf("a recovery code after the reset: %d %v", code, out)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
