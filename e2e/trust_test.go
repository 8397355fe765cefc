package e2e

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// mailbox is a real SMTP server on 127.0.0.1 keeping each message's
// decoded text (every text part, quoted-printable undone).
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

type mailSession struct{ box *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	text := decodePart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, text)
	s.box.mu.Unlock()
	return nil
}

// decodePart is the text of a MIME part, its sub-parts joined.
func decodePart(contentType, encoding string, body io.Reader) string {
	mt, params, _ := mime.ParseMediaType(contentType)
	if strings.HasPrefix(mt, "multipart/") {
		var b strings.Builder
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			b.WriteString(decodePart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p))
			b.WriteString("\n")
		}
		return b.String()
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	raw, _ := io.ReadAll(body)
	return string(raw)
}

func startMailbox(t *testing.T) *mailbox {
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: box}, nil }))
	srv.Domain, srv.Addr = "localhost", testenv.FreeAddr(t)
	box.addr = srv.Addr
	go func() { _ = srv.ListenAndServe() }()
	t.Cleanup(func() { _ = srv.Close() })
	for i := 0; ; i++ {
		c, err := smtp.Dial(srv.Addr)
		if err == nil {
			_ = c.Quit()
			return box
		}
		if i > 200 {
			t.Fatalf("smtp server: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// take waits for (and removes) the first message matching re and returns
// the match's first group (or the whole match).
func (b *mailbox) take(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		for i, m := range b.msgs {
			if g := re.FindStringSubmatch(m); g != nil {
				b.msgs = append(b.msgs[:i], b.msgs[i+1:]...)
				b.mu.Unlock()
				return g[len(g)-1]
			}
		}
		b.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no email matching %s", re)
	return ""
}

var (
	confirmLink = regexp.MustCompile(`confirmation=([A-Za-z0-9_-]{40,})`)
	codeMail    = regexp.MustCompile(`code is:\s+(\d{6})`)
)

// reportLinkOf is the pattern of the "This wasn't me" link of a session.
func reportLinkOf(sid string) *regexp.Regexp {
	return regexp.MustCompile(`http://auth\.example\.test(/api/auth/report\?token=` + regexp.QuoteMeta(sid) + `\.[0-9]+\.[A-Za-z0-9_-]+)`)
}

// TestBrowserTrustAndChallengeAdmin drives the real binary in Chromium: the
// policy editor sets new_device to challenge (and the new sign-in email
// on); a login from a new browser is challenged, passes with the email
// code and remembers its device; the remembered device signs in without a
// challenge; the "This wasn't me" page of the delivered email signs that
// session out; the user page shows the trusted device, the challenge
// history and the marks, and "forget trusted devices" needs the admin's
// password again (a wrong one changes nothing); analytics count the
// challenge.
func TestBrowserTrustAndChallengeAdmin(t *testing.T) {
	box := startMailbox(t)
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, map[string]string{
		"SMTP_URL": "smtp://" + box.addr + "?tls=none", "SM_ALERT_FROM": "Security <security@example.test>",
		"SM_EMAIL_CONFIRMATION_URL": "http://auth.example.test/api/auth/email-confirmation?confirmation=",
		"SM_PUBLIC_URL":             "http://auth.example.test"}))
	ctx := browsertest.Chrome(t)
	read := s.adminToken("read")
	s.register("81.2.69.160", "vera", "vera@example.com", userPassword)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.base + "/api/auth/email-confirmation?confirmation=" + url.QueryEscape(box.take(t, confirmLink)))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("confirm the email: %v %v", resp, err)
	}
	resp.Body.Close()
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])

	// The policy editor: new device -> challenge, new sign-in email on.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/settings"),
		chromedp.WaitVisible(chromedp.ID("policy")),
		chromedp.Click(chromedp.CSS(`#policy input[name="action.newDevice"][value=challenge]`)),
		chromedp.Click(chromedp.CSS(`#policy input[name=newSignInEmail]`)),
		chromedp.Click(chromedp.CSS(`#policy button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector(".flash") !== null`, 10*time.Second); err != nil {
		t.Fatalf("policy not saved: %v", err)
	}
	st := s.settings(read)
	if a, _ := st["actions"].(map[string]any); str(a, "newDevice") != "challenge" || st["newSignInEmail"] != true {
		t.Fatalf("the policy editor did not store the challenge: %v", st)
	}

	// A new browser is challenged; the email code passes it and the device
	// is remembered.
	code, out := s.loginFrom("81.2.69.160", uaChromeMac, "vera", userPassword)
	e, _ := out["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	ch, _ := d["challenge"].(map[string]any)
	if code != 401 || errReason(out) != "challenge_required" || str(ch, "id") == "" {
		t.Fatalf("login from a new browser: %d %v", code, out)
	}
	if code, _, out := s.request("81.2.69.160", uaChromeMac, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": str(ch, "id"), "method": "email"}); code != 200 {
		t.Fatalf("send: %d %v", code, out)
	}
	code, _, passed := s.request("81.2.69.160", uaChromeMac, "POST", "/api/auth/challenge/verify", "",
		map[string]any{"challengeId": str(ch, "id"), "method": "email", "code": box.take(t, codeMail), "rememberDevice": true})
	if code != 200 || str(passed, "deviceToken") == "" {
		t.Fatalf("verify: %d %v", code, passed)
	}
	userID := str(passed["user"].(map[string]any), "id")
	// The remembered device signs in again without a challenge.
	code, _, again := s.request("81.2.69.160", uaChromeMac, "POST", "/api/auth/local", "",
		map[string]any{"identifier": "vera", "password": userPassword, "deviceToken": str(passed, "deviceToken")})
	if code != 200 {
		t.Fatalf("trusted device login: %d %v", code, again)
	}
	reportedSID := str(again["session"].(map[string]any), "id")

	// "This wasn't me" from the new sign-in email, in the browser.
	link := box.take(t, reportLinkOf(reportedSID))
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+link),
		chromedp.WaitVisible(chromedp.ID("report-one")),
		chromedp.Click(chromedp.ID("report-one")),
		chromedp.WaitVisible(chromedp.ID("report-done")),
	); err != nil {
		t.Fatalf("report page: %v", err)
	}
	if code, _, out := s.call("GET", "/api/users/me", str(again, "jwt"), nil); code != 401 {
		t.Fatalf("the reported session still works: %d %v", code, out)
	}

	// The user page: trusted device, challenge history, marks.
	userPage := s.base + "/admin/users/" + userID
	if err := chromedp.Do(ctx, chromedp.Navigate(userPage), chromedp.WaitVisible(chromedp.ID("security"))); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"one trusted device":      `document.querySelectorAll("#trusted-devices tbody tr").length === 1`,
		"the challenge history":   `["Login challenged", "Challenge passed", "Device remembered", "Reported"].every(l => document.getElementById("challenge-history").textContent.includes(l))`,
		"the reported mark":       `document.querySelector('[data-mark=reported]') !== null`,
		"the challenged mark":     `document.querySelector('[data-mark=challenged]') !== null`,
		"no factor but the email": `document.getElementById("user-factors").textContent.includes("None enrolled")`,
	}
	for what, expr := range checks {
		if err := browsertest.Until(ctx, expr, 5*time.Second); err != nil {
			t.Errorf("user page, %s: %v", what, err)
		}
	}
	screenshot(t, ctx, userPage, "user-security")

	// Forget trusted devices: a wrong password changes nothing.
	forget := func(password string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(userPage), chromedp.WaitVisible(chromedp.ID("forget-devices")),
			chromedp.SendKeys(chromedp.CSS(`#forget-devices input[name=password]`), password),
			chromedp.Click(chromedp.CSS(`#forget-devices button[type=submit]`)),
		); err != nil {
			t.Fatal(err)
		}
	}
	forget("not my password")
	if err := browsertest.Until(ctx, `document.getElementById("stepup-error") !== null && document.querySelectorAll("#trusted-devices tbody tr").length === 1`, 10*time.Second); err != nil {
		t.Fatalf("a wrong password: %v", err)
	}
	forget(s.env["SM_ADMIN_PASSWORD"])
	if err := browsertest.Until(ctx, `document.querySelector(".flash") !== null && document.getElementById("trusted-devices") === null`, 10*time.Second); err != nil {
		t.Fatalf("forget trusted devices: %v", err)
	}
	_, _, audit := s.call("GET", "/api/admin/audit?type=admin.action&user="+userID, read, nil)
	if !strings.Contains(fmt.Sprint(audit), "forget_trusted_devices") {
		t.Fatalf("not audited: %v", audit)
	}

	// Analytics count the challenge.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/analytics"), chromedp.WaitVisible(chromedp.ID("challenge-counts"))); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"login.challenged", "challenge.passed", "session.reported"} {
		if err := browsertest.Until(ctx, fmt.Sprintf(`document.querySelector('[data-count=%q] .stat-value').textContent.trim() === "1"`, typ), 5*time.Second); err != nil {
			t.Errorf("analytics %s: %v", typ, err)
		}
	}
}
