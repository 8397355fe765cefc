package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
)

// TestBrowserReportRemovesThiefPasskey (real binary, real SMTP, Chromium
// with virtual authenticators): the owner has a passkey; a thief with the
// password and the mailbox passes the new-device challenge with the
// emailed code and enrols a passkey of his own; the owner follows "This
// wasn't me" from the delivered new sign-in email and ends all sessions.
// The thief's passkey is gone and cannot sign in; the owner's older one
// stays but signs in only after the password reset (403
// password_reset_required), as the password does.
func TestBrowserReportRemovesThiefPasskey(t *testing.T) {
	box := startMailbox(t)
	s, origin := passkeyServer(t, map[string]string{
		"SMTP_URL": "smtp://" + box.addr + "?tls=none", "SM_ALERT_FROM": "Security <security@example.test>",
		"SM_EMAIL_CONFIRMATION_URL": "http://auth.example.test/api/auth/email-confirmation?confirmation="})
	write := s.adminToken("write")
	if code, _, out := s.call("PUT", "/api/admin/settings", write, map[string]any{"actions": map[string]any{"newDevice": "challenge"}, "newSignInEmail": true}); code != 200 {
		t.Fatalf("settings: %d %v", code, out)
	}
	const password = "vic password 1"
	s.register("", "vic", "vic@example.com", password)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.base + "/api/auth/email-confirmation?confirmation=" + url.QueryEscape(box.take(t, confirmLink)))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("confirm the email: %v %v", resp, err)
	}
	resp.Body.Close()

	browser := browsertest.Chrome(t)
	owner := newBrowserTab(t, browser, origin)
	jwt := jwtOf(t, s, "vic", password) // the sign-up's device: no challenge
	opts := owner.api("POST", "/api/users/me/passkeys/options", jwt, nil)
	if reg := owner.api("POST", "/api/users/me/passkeys", jwt, map[string]any{"name": "owner's key", "credential": owner.create(opts.Body)}); reg.Status != 201 {
		t.Fatalf("the owner enrols: %+v", reg)
	}

	// The thief: password from a new device, the emailed code (the mailbox
	// is his too), a session of acr 2, a passkey of his own.
	code, out := s.loginFrom("", uaChromeMac, "vic", password)
	e, _ := out["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	ch, _ := d["challenge"].(map[string]any)
	if code != 401 || errReason(out) != "challenge_required" {
		t.Fatalf("the thief's login: %d %v", code, out)
	}
	if code, _, out := s.request("", uaChromeMac, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": str(ch, "id"), "method": "email"}); code != 200 {
		t.Fatalf("send: %d %v", code, out)
	}
	code, _, in := s.request("", uaChromeMac, "POST", "/api/auth/challenge/verify", "",
		map[string]any{"challengeId": str(ch, "id"), "method": "email", "code": box.take(t, codeMail)})
	if code != 200 {
		t.Fatalf("the thief's verify: %d %v", code, in)
	}
	thiefJWT, thiefSID := str(in, "jwt"), str(in["session"].(map[string]any), "id")
	thief := newBrowserTab(t, browser, origin)
	opts = thief.api("POST", "/api/users/me/passkeys/options", thiefJWT, nil)
	if reg := thief.api("POST", "/api/users/me/passkeys", thiefJWT, map[string]any{"name": "mine now", "credential": thief.create(opts.Body)}); reg.Status != 201 {
		t.Fatalf("the thief enrols: %+v", reg)
	}
	if n := len(passkeyList(t, s, thiefJWT)); n != 2 {
		t.Fatalf("%d passkeys before the report, want 2", n)
	}

	// The owner: "This wasn't me" from the thief's new sign-in email, all sessions.
	link := box.take(t, regexp.MustCompile(regexp.QuoteMeta(origin)+`/api/auth/report\?token=(`+regexp.QuoteMeta(thiefSID)+`\.[0-9]+\.[A-Za-z0-9_-]+)`))
	if code, _, out := s.call("POST", "/api/auth/report", "", map[string]any{"token": link, "endAll": true}); code != 200 || out["reported"] != true {
		t.Fatalf("report: %d %v", code, out)
	}

	// The thief's passkey is gone and opens nothing.
	_, _, lo := s.call("POST", "/api/auth/passkey/options", "", nil)
	a := thief.api("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": thief.get(lo)})
	wantRefused(t, "the thief's passkey after the report", a.Status, a.Body, 400, "passkey_unknown")
	// The owner's older passkey stays (it is recognised: 403, not
	// passkey_unknown), but nothing signs in before the reset.
	_, _, lo = s.call("POST", "/api/auth/passkey/options", "", nil)
	a = owner.api("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": owner.get(lo)})
	wantRefused(t, "the owner's passkey before the reset", a.Status, a.Body, 403, "password_reset_required")
	code, out = s.loginFrom("", uaFirefoxLinux, "vic", password)
	wantRefused(t, "the password before the reset", code, out, 403, "password_reset_required")
}
