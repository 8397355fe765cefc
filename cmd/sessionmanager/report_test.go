package main

import (
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

const reportPublicURL = "http://auth.example.test"

var reportPattern = regexp.MustCompile(`http://auth\.example\.test/api/auth/report\?token=[^\s"<>]+`)

// reportLinkIn finds the "This wasn't me" link in a delivered email (its
// parts are quoted-printable: soft line breaks may cut the link).
func reportLinkIn(t *testing.T, m receivedMail) *url.URL {
	t.Helper()
	body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	if err != nil {
		body = []byte(m.Body)
	}
	u, err := url.Parse(reportPattern.FindString(string(body)))
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no report link in %q", body)
	}
	return u
}

// page GETs or POSTs (a form) on an instance and returns status, headers
// and the HTML.
func page(t *testing.T, method, target string, form url.Values) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestThisWasntMeEndsTheSessionOnAnotherInstance: two instances share
// PostgreSQL and Redis and one real SMTP server. A sign-in through A sends
// the user the new sign-in email; its "This wasn't me" link, followed on B,
// shows a confirm page that changes nothing (mail scanners fetch links),
// and the confirmation ends the session on A at once (access and refresh),
// works once, refuses the password until the emailed reset is done,
// records session.reported and fires a user_reported rule's webhook.
func TestThisWasntMeEndsTheSessionOnAnotherInstance(t *testing.T) {
	box := startMailbox(t)
	rc := &receiver{secret: []byte("whsec-report-test")}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	db := testenv.PostgresSchema(t)
	shared := map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": token.GenerateKey(), "SM_REDIS_PREFIX": testenv.Name("msmtest:") + ":",
		"REDIS_URL": testenv.RedisURL(t), "SM_LOG_LEVEL": "warn", "LICENSE_KEY": testLicense(t, license.EditionAdvanced),
		"SMTP_URL": "smtp://" + box.addr + "?tls=none", "SM_ALERT_FROM": "Security <security@example.test>",
		"SM_PUBLIC_URL": reportPublicURL, "SM_RESET_PASSWORD_URL": resetBase}
	var nodes []*server
	for range 2 {
		env := map[string]string{}
		for k, v := range shared {
			env[k] = v
		}
		nodes = append(nodes, startServer(t, env))
	}
	a, b := nodes[0], nodes[1]
	write := a.adminToken("write")
	const password = "correct horse battery"
	if code, _, out := a.call("POST", "/api/auth/local/register", "", map[string]any{"username": "rita", "email": "rita@example.com", "password": password}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	if code, _, out := a.call("PUT", "/api/admin/settings", write, `{"newSignInEmail":true}`); code != 200 {
		t.Fatalf("settings: %d %v", code, out)
	}
	if code, _, out := a.call("POST", "/api/admin/alerts/rules", write, map[string]any{"name": "reported", "triggers": []string{"user_reported"},
		"channels": []map[string]any{{"type": "webhook", "url": hook.URL + "/hook", "secret": string(rc.secret)}}}); code != 201 {
		t.Fatalf("rule: %d %v", code, out)
	}
	code, _, login := a.call("POST", "/api/auth/local", "", map[string]any{"identifier": "rita", "password": password})
	if code != 200 {
		t.Fatalf("login: %d %v", code, login)
	}
	jwt, refresh, sid := str(login, "jwt"), str(login, "refreshToken"), str(login["session"].(map[string]any), "id")
	if got := get(t, a.base+"/api/users/me", jwt); got != 200 {
		t.Fatalf("fresh session: %d", got)
	}

	link := reportLinkIn(t, box.waitFor(t, "rita@example.com"))
	tok := link.Query().Get("token")
	if !strings.HasPrefix(tok, sid+".") {
		t.Fatalf("the link is not about the new session %s: %s", sid, tok)
	}
	onB := b.base + link.RequestURI()

	// GET (twice, as a scanner and then the user) changes nothing.
	for range 2 {
		code, h, html := page(t, "GET", onB, nil)
		if code != 200 || !strings.Contains(html, `id="report-one"`) || !strings.Contains(html, `id="report-all"`) || h.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("confirm page: %d %v %s", code, h, html)
		}
	}
	if got := get(t, a.base+"/api/users/me", jwt); got != 200 {
		t.Fatalf("the confirm page ended the session: %d", got)
	}

	// A forged or truncated token is refused with 400 and changes nothing.
	for _, bad := range []string{sid + ".9999999999.AAAA", tok[:len(tok)-2], "x", ""} {
		code, _, out := b.call("POST", "/api/auth/report", "", map[string]any{"token": bad})
		if code != 400 {
			t.Fatalf("bad token %q: %d %v", bad, code, out)
		}
	}

	// The form's confirmation on B ends the session on A at once.
	code, _, html := page(t, "POST", b.base+"/api/auth/report", url.Values{"token": {tok}, "endAll": {"0"}})
	if code != 200 || !strings.Contains(html, `id="report-done"`) {
		t.Fatalf("confirm: %d %s", code, html)
	}
	req, _ := http.NewRequest("GET", a.base+"/api/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+jwt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("X-Session-Terminated-Reason") != "reported" {
		t.Fatalf("access token on A after the report: %d %q", resp.StatusCode, resp.Header.Get("X-Session-Terminated-Reason"))
	}
	if code, _, out := a.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": refresh}); code != 401 {
		t.Fatalf("refresh on A after the report: %d %v", code, out)
	}

	// Single use: the link again (JSON or form) is link_used; the page says so.
	if code, _, out := a.call("POST", "/api/auth/report", "", map[string]any{"token": tok, "endAll": true}); code != 400 || errReason(out) != "link_used" {
		t.Fatalf("replay: %d %v", code, out)
	}
	if code, _, html := page(t, "GET", onB, nil); code != 400 || !strings.Contains(html, `id="report-error"`) {
		t.Fatalf("page of a used link: %d %s", code, html)
	}

	// The password alone no longer signs in, on either instance.
	for _, n := range nodes {
		code, _, out := n.call("POST", "/api/auth/local", "", map[string]any{"identifier": "rita", "password": password})
		if code != 403 || errReason(out) != "password_reset_required" {
			t.Fatalf("password login after the report: %d %v", code, out)
		}
	}
	// A wrong password still answers invalid credentials (nothing told).
	if code, _, out := a.call("POST", "/api/auth/local", "", map[string]any{"identifier": "rita", "password": "wrong horse"}); code != 400 || errReason(out) != "invalid_credentials" {
		t.Fatalf("wrong password: %d %v", code, out)
	}

	// Audited and alerted.
	_, _, audit := a.call("GET", "/api/admin/audit?type=session.reported", write, nil)
	events, _ := audit["data"].([]any)
	if len(events) != 1 || str(events[0].(map[string]any), "sessionId") != sid {
		t.Fatalf("session.reported events: %v", audit)
	}
	if al := rc.waitAlert(t, "session.reported"); al.Session.ID != sid || al.User.Email != "rita@example.com" || al.Severity != "critical" {
		t.Fatalf("user_reported alert: %+v", al)
	}

	// The emailed reset is the way back in.
	const next = "a brand new horse staple"
	if code, _, out := b.call("POST", "/api/auth/forgot-password", "", map[string]any{"email": "rita@example.com"}); code != 200 {
		t.Fatalf("forgot-password: %d %v", code, out)
	}
	code, _, out := b.call("POST", "/api/auth/reset-password", "", map[string]any{"code": tokenIn(t, box.waitFor(t, "rita@example.com"), resetPattern, "code"),
		"password": next, "passwordConfirmation": next})
	if code != 200 {
		t.Fatalf("reset: %d %v", code, out)
	}
	if code, _, out := a.call("POST", "/api/auth/local", "", map[string]any{"identifier": "rita", "password": next}); code != 200 {
		t.Fatalf("login after the reset: %d %v", code, out)
	}
}
