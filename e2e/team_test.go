package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// inviteLink is the link of an invitation to join as a viewer.
var inviteLink = regexp.MustCompile(`as viewer\. Follow[\s\S]*?(http://\S+/admin/invite\?token=\S+)`)

// run runs chromedp actions or fails the test with what.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action and returns its value, or fails the test.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signOut signs the browser's admin out through the side bar's button.
func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)))
}

// fetchStatus posts from the page (with its anti-forgery token) and
// returns the HTTP status: what a viewer who forged the hidden form gets.
func fetchStatus(t *testing.T, ctx context.Context, method, path string) int {
	t.Helper()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+"`"+path+"`"+`, {method: "`+method+`", headers: {"X-CSRF-Token": document.querySelector('meta[name=csrf-token]').content}}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status
}

// TestBrowserTeamInviteViewer: an owner invites a viewer from the Team page;
// the invitation arrives through the real SMTP path; its link sets the
// password and signs the viewer in; the viewer sees no write control, a
// forged terminate is 403, the Team page is 403, and a read-scope API token
// (the viewer's scope) is 403 on a write route.
func TestBrowserTeamInviteViewer(t *testing.T) {
	box := startMailbox(t)
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, map[string]string{
		"SMTP_URL": "smtp://" + box.addr + "?tls=none", "SM_ALERT_FROM": "Session Manager <sm@example.test>"}))
	ctx := browsertest.Chrome(t)
	s.register("81.2.69.160", "dave", "dave@example.com", userPassword)
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])

	run(t, ctx, "team page", chromedp.Navigate(s.base+"/admin/team"), chromedp.WaitVisible(chromedp.CSS(`#invite`)))
	browsertest.CheckPage(t, ctx, "team")
	run(t, ctx, "invite",
		chromedp.SendKeys(chromedp.CSS(`#invite input[name=email]`), "viewer@example.com"),
		chromedp.SetValue(chromedp.CSS(`#invite select[name=role]`), sm.RoleViewer),
		chromedp.Click(chromedp.CSS(`#invite button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	// Delivered through the service's SMTP path to a real SMTP server.
	link := box.take(t, inviteLink)
	signOut(t, ctx)

	const viewerPassword = "viewer password for tests"
	run(t, ctx, "invite page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`input[name=again]`)))
	browsertest.CheckPage(t, ctx, "invite")
	run(t, ctx, "accept",
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), viewerPassword),
		chromedp.SendKeys(chromedp.CSS(`input[name=again]`), viewerPassword),
		chromedp.Submit(chromedp.CSS(`input[name=again]`)),
		chromedp.WaitVisible(chromedp.CSS(`.role-tag`)))
	// The link worked once.
	if resp, err := http.PostForm(s.base+"/admin/invite", map[string][]string{"token": {strings.SplitN(link, "token=", 2)[1]}, "password": {viewerPassword}, "again": {viewerPassword}}); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second use of the invitation: %d, want 404", resp.StatusCode)
	}
	signOut(t, ctx)
	browserSignIn(t, ctx, s.base, "viewer@example.com", viewerPassword)
	browsertest.CheckPage(t, ctx, "sessions-viewer")
	// No visible control posts: no button of a posting form, no control
	// tied to one (the bulk selection and its button).
	visibleWrites := get(t, ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('main form[method=post] button, main form[method=post] [type=submit], main [form]')].filter(el => el.offsetParent !== null).length`))
	hasTeam := get(t, ctx, chromedp.Evaluate[bool](`!!document.querySelector('a[href="/admin/team"]')`))
	if visibleWrites != 0 || hasTeam {
		t.Errorf("a viewer sees %d write controls and the Team link %v", visibleWrites, hasTeam)
	}
	run(t, ctx, "viewer's user page", chromedp.Click(chromedp.CSS(`#sessions-table a[href^="/admin/users/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if n := get(t, ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('main form[method=post] button')].filter(el => el.offsetParent !== null).length`)); n != 0 {
		t.Errorf("a viewer sees %d buttons of the user page's actions", n)
	}
	if st := fetchStatus(t, ctx, "POST", "/admin/sessions/terminate"); st != http.StatusForbidden {
		t.Errorf("viewer terminate: %d, want 403", st)
	}
	if st := fetchStatus(t, ctx, "GET", "/admin/team"); st != http.StatusForbidden {
		t.Errorf("viewer team page: %d, want 403", st)
	}
	read := s.adminToken(sm.ScopeRead)
	if code, _, _ := s.call("GET", "/api/admin/sessions", read, nil); code != http.StatusOK {
		t.Errorf("read token lists sessions: %d", code)
	}
	if code, _, body := s.call("POST", "/api/admin/sessions/nope/terminate", read, nil); code != http.StatusForbidden {
		t.Errorf("read (viewer) token terminates: %d %v, want 403", code, body)
	}
}

// TestBrowserTokensAndTwoFactor: an API token made on the tokens page is
// shown once, works, and is refused (401) once revoked; TOTP enrolled on the
// account page (QR code, recovery codes) makes the next sign-in two-step.
func TestBrowserTokensAndTwoFactor(t *testing.T) {
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, nil))
	ctx := browsertest.Chrome(t)
	password := s.env["SM_ADMIN_PASSWORD"]
	browserSignIn(t, ctx, s.base, adminEmail, password)

	run(t, ctx, "tokens page", chromedp.Navigate(s.base+"/admin/tokens"), chromedp.WaitVisible(chromedp.CSS(`#create-token`)))
	browsertest.CheckPage(t, ctx, "tokens")
	run(t, ctx, "create token",
		chromedp.SendKeys(chromedp.CSS(`#create-token input[name=name]`), "ci export"),
		chromedp.SetValue(chromedp.CSS(`#create-token select[name=scope]`), sm.ScopeWrite),
		chromedp.Click(chromedp.CSS(`#create-token button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-token`)))
	token := get(t, ctx, chromedp.Value(chromedp.CSS(`#new-token`)))
	browsertest.CheckPage(t, ctx, "tokens-created")
	if !strings.HasPrefix(token, sm.AdminTokenPrefix) {
		t.Fatalf("token shown: %q", token)
	}
	if code, _, _ := s.call("GET", "/api/admin/sessions", token, nil); code != http.StatusOK {
		t.Fatalf("new token: %d", code)
	}
	run(t, ctx, "revoke", chromedp.Navigate(s.base+"/admin/tokens"),
		chromedp.Click(chromedp.CSS(`tr[data-token="ci export"] form button`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-token="ci export"] .badge-bad`)))
	if code, _, _ := s.call("GET", "/api/admin/sessions", token, nil); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", code)
	}

	run(t, ctx, "account page", chromedp.Navigate(s.base+"/admin/account"),
		chromedp.WaitVisible(chromedp.CSS(`#two-factor img.qr`)))
	secret := get(t, ctx, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	browsertest.CheckPage(t, ctx, "account")
	code, err := sm.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "enable TOTP",
		chromedp.SendKeys(chromedp.CSS(`#two-factor input[name=code]`), code),
		chromedp.Click(chromedp.CSS(`#two-factor button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)))
	recovery := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#recovery-codes li')].map(li => li.textContent)`))
	browsertest.CheckPage(t, ctx, "account-totp-on")
	if len(recovery) != 10 {
		t.Fatalf("recovery codes shown: %v", recovery)
	}
	signOut(t, ctx)

	run(t, ctx, "password step",
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), adminEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/login/code"] input[name=code]`)))
	browsertest.CheckPage(t, ctx, "login-code")
	run(t, ctx, "wrong code",
		chromedp.SendKeys(chromedp.CSS(`input[name=code]`), "000000"),
		chromedp.Submit(chromedp.CSS(`input[name=code]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-error`)))
	// The enrolment's code was spent; the app's next code (the window
	// accepts one step ahead for clock drift) signs in.
	next, err := sm.TOTPCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "TOTP code",
		chromedp.SendKeys(chromedp.CSS(`input[name=code]`), next),
		chromedp.Submit(chromedp.CSS(`input[name=code]`)),
		chromedp.WaitVisible(chromedp.CSS(`.role-tag`)))
	signOut(t, ctx)
	// A recovery code signs in once.
	run(t, ctx, "recovery code", chromedp.Navigate(s.base+"/admin/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), adminEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=code]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=code]`), recovery[0]),
		chromedp.Submit(chromedp.CSS(`input[name=code]`)),
		chromedp.WaitVisible(chromedp.CSS(`.role-tag`)))
}
