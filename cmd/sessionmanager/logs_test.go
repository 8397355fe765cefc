//go:build licensetest

package main

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestNoSecretInLogs runs a full life at debug level (register, login with a
// wrong then the right password, refresh, refresh reuse that ends the
// session and fires a signed webhook alert, magic link request and
// sign-in, admin API calls, logout, shutdown) and then searches everything
// the service wrote (stdout and stderr) for every secret it handled:
// passwords, access and refresh tokens, the magic link token, the email
// confirmation token and password-reset code, the admin API
// token, the webhook secret and SESSION_ENCRYPTION_KEY, in full and by
// their last 16 characters (a truncated token is still a leak).
func TestNoSecretInLogs(t *testing.T) {
	rc := &receiver{secret: []byte("whsec-log-test-secret-0123456789")}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	key := generateKey()
	manual := manualClock()
	s, box := startMagicServerOn(t, map[string]string{
		"SM_LOG_LEVEL": "debug", "SESSION_ENCRYPTION_KEY": key, "SM_REFRESH_GRACE": "1s",
		"SM_MAGIC_LINK_PER_IP": "1000", "LICENSE_KEY": testLicense(t, license.EditionAdvanced),
		"SM_EMAIL_CONFIRMATION_URL": confirmBase, "SM_RESET_PASSWORD_URL": resetBase,
	}, manual)
	secrets := map[string]string{
		"SESSION_ENCRYPTION_KEY": key, "admin password": s.env["SM_ADMIN_PASSWORD"],
		"webhook secret": string(rc.secret), "user password": "correct horse battery",
		"wrong password": "wrong horse battery typed", "new password": "a brand new horse battery",
	}
	add := func(name string, body map[string]any) {
		for _, k := range []string{"jwt", "refreshToken"} {
			if v := str(body, k); v != "" {
				secrets[name+" "+k] = v
			}
		}
	}
	write := s.adminToken("write")
	secrets["admin token"] = write
	if code, _, body := s.call("POST", "/api/admin/alerts/rules", write, map[string]any{
		"name": "reuse", "enabled": true, "triggers": []string{"refresh_reuse"},
		"channels": []map[string]any{{"type": "webhook", "url": hook.URL + "/hook", "secret": string(rc.secret)}},
	}); code != 201 {
		t.Fatalf("create rule: %d %v", code, body)
	}
	reg := s.register(t, "lena")
	add("register", reg)
	secrets["confirmation token"] = tokenIn(t, box.waitFor(t, "lena@example.com"), confirmPattern, "confirmation")
	s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(secrets["confirmation token"]))
	s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(secrets["confirmation token"])) // spent: refused
	if code, _, _ := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "lena", "password": secrets["wrong password"]}); code != 400 && code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	// A log-injection attempt: a newline and a fake JSON record.
	s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "x\n{\"level\":\"ERROR\",\"msg\":\"forged\"}\r\n", "password": secrets["wrong password"]})
	code, _, login := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "lena@example.com", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, login)
	}
	add("login", login)
	s.call("GET", "/api/users/me", str(login, "jwt"), nil)
	s.call("GET", "/api/auth/verify", str(login, "jwt"), nil)
	code, _, ref := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(reg, "refreshToken")})
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, ref)
	}
	add("refresh", ref)
	manual.clock.Advance(1500 * time.Millisecond) // past SM_REFRESH_GRACE: the old token is now a reuse
	if code, _, body := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(reg, "refreshToken")}); code != 401 || errReason(body) != "refresh_reuse" {
		t.Errorf("reuse: %d %v", code, body)
	}
	rc.waitAlert(t, "session.refresh_reuse")
	// Before the magic link: it proves lena's email, which voids the
	// password nobody had proven and ends her other sessions.
	if code, _, body := s.call("POST", "/api/auth/change-password", str(login, "jwt"), map[string]any{"currentPassword": "correct horse battery", "password": secrets["new password"], "passwordConfirmation": secrets["new password"]}); code != 200 {
		t.Errorf("change password: %d %v", code, body)
	}
	tok := s.requestLink(t, box, "lena@example.com")
	secrets["magic link token"] = tok
	code, _, ml := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
	if code != 200 {
		t.Fatalf("magic link verify: %d %v", code, ml)
	}
	add("magic link", ml)
	s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok}) // replay: refused, logged
	if code, _, _ := s.call("POST", "/api/auth/logout", str(ml, "jwt"), nil); code != 200 {
		t.Errorf("logout: %d", code)
	}
	// A password reset: the code, the new password and the tokens.
	s.call("POST", "/api/auth/forgot-password", "", map[string]any{"email": "lena@example.com"})
	secrets["reset code"] = tokenIn(t, box.waitFor(t, "lena@example.com"), resetPattern, "code")
	secrets["reset password"] = "a reset horse battery staple"
	code, _, reset := s.call("POST", "/api/auth/reset-password", "", map[string]any{"code": secrets["reset code"], "password": secrets["reset password"], "passwordConfirmation": secrets["reset password"]})
	if code != 200 {
		t.Errorf("reset: %d %v", code, reset)
	}
	add("reset", reset)
	s.call("GET", "/api/admin/sessions", write, nil)
	s.call("GET", "/api/admin/audit", write, nil)
	s.call("GET", "/api/users/me", "eyJhbGciOiJub25lIn0.forged.x", nil)
	s.stop()

	logs := s.stdout.String() + s.stderr.String()
	// The service has no debug-only lines today; the level is set so that
	// any added later are searched too.
	if !strings.Contains(logs, `"msg":"serving"`) || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Fatalf("the logs were not captured: the test would prove nothing\n%s", logs)
	}
	if len(secrets) < 14 {
		t.Fatalf("only %d secrets collected: %v", len(secrets), secrets)
	}
	// Every line is one JSON record with time, level and message (no
	// injected line, no stray output), in UTC or with an explicit offset.
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, str(rec, "time")); err != nil || str(rec, "level") == "" || str(rec, "msg") == "" {
			t.Errorf("a log line without time, level or msg: %q", line)
		}
		if str(rec, "msg") == "forged" {
			t.Errorf("an injected log record: %q", line)
		}
	}
	for name, v := range secrets {
		if len(v) < 16 {
			t.Fatalf("%s is too short to search for: %q", name, v)
		}
		if strings.Contains(logs, v) || strings.Contains(logs, v[len(v)-16:]) {
			t.Errorf("the logs contain the %s", name)
		}
	}
	t.Logf("%d log lines searched for %d secrets", strings.Count(logs, "\n"), len(secrets))
}
