package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// evalJS runs a JavaScript expression in the page and fails the test on an
// error.
func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// TestBrowserAuditLog drives the audit log page in Chromium: an admin
// action done in the dashboard names the admin by email (page and API);
// the filter form (type + IP) narrows the log and lands in a shareable
// URL; the actor link filters by the admin's email; the CSV and NDJSON
// exports hold exactly the filtered events and are audited; "verify
// chain" reports the chain intact; a bad IP is a 400 naming the field;
// times show in the browser's zone with UTC on hover.
func TestBrowserAuditLog(t *testing.T) {
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, nil))
	ctx := browsertest.Chrome(t)
	read := s.adminToken("read")
	s.register("81.2.69.160", "dave", "dave@example.com", userPassword)
	code, login := s.loginFrom("81.2.69.161", uaFirefoxWin, "dave", userPassword)
	if code != 200 {
		t.Fatalf("login: %d %v", code, login)
	}
	sid := str(login["session"].(map[string]any), "id")
	if code, out := s.loginFrom("198.51.100.7", uaChromeMac, "dave", "not the password"); code != http.StatusBadRequest && code != http.StatusUnauthorized {
		t.Fatalf("failed login answered %d %v", code, out)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])

	// An admin action from the dashboard: terminate dave's session.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-terminate=%q]`, sid)))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector(".flash") !== null`, 10*time.Second); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	// The API names the admin by email too.
	_, _, ended := s.call("GET", "/api/admin/audit?type=session.ended&actor="+adminEmail, read, nil)
	if rows, _ := ended["data"].([]any); len(rows) != 1 || !strings.Contains(fmt.Sprint(rows[0]), adminEmail) {
		t.Fatalf("API audit by actor email: %v", ended)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/audit"), chromedp.WaitVisible(chromedp.ID("audit-log"))); err != nil {
		t.Fatal(err)
	}
	row := `document.querySelector('#audit-log tr[data-type="session.ended"]')`
	if got := evalJS[string](t, ctx, row+`.querySelector("[data-actor]").textContent`); got != adminEmail {
		t.Errorf("the termination's actor reads %q, want the admin's email", got)
	}
	if got := evalJS[string](t, ctx, row+`.querySelector('a[href^="/admin/sessions/"]').getAttribute("href")`); got != "/admin/sessions/"+sid {
		t.Errorf("the termination links %q", got)
	}
	if ok := evalJS[bool](t, ctx, `(() => { const el = document.querySelector('#audit-log time[data-local]'); return el.title.endsWith(" UTC") && !el.textContent.includes("UTC") && el.textContent !== el.title; })()`); !ok {
		t.Error("times are not shown in the browser's zone with UTC on hover")
	}
	if nav := evalJS[string](t, ctx, `document.querySelector('.nav-link[aria-current=page]').textContent`); !strings.Contains(nav, "Audit log") {
		t.Errorf("current nav entry %q", nav)
	}
	browsertest.CheckPage(t, ctx, "audit")

	// Filter: failed logins from one IP, through the form.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#audit-filter select[name=type]`), "login.failed"),
		chromedp.SendKeys(chromedp.CSS(`#audit-filter input[name=ip]`), "198.51.100.7"),
		chromedp.Submit(chromedp.CSS(`#audit-filter input[name=ip]`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `location.search.includes("ip=198.51.100.7") && document.getElementById("audit-log") !== null`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	types := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#audit-log tr[data-type]')).map(r => r.dataset.type)`)
	if len(types) != 1 || types[0] != "login.failed" {
		t.Fatalf("filtered rows %v, want the one failed login", types)
	}
	shareable := evalJS[string](t, ctx, `location.href`)

	// The exports of this filter, as the browser downloads them.
	csv := evalJS[string](t, ctx, `fetch(document.getElementById("export-csv").href).then(r => r.text())`)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "seq,at,type,") || !strings.HasSuffix(lines[0], ",actor") || !strings.Contains(lines[1], "login.failed") || !strings.Contains(lines[1], "198.51.100.7") {
		t.Fatalf("CSV export of the filter:\n%s", csv)
	}
	nd := evalJS[string](t, ctx, `fetch(document.getElementById("export-ndjson").href).then(r => r.text())`)
	ndLines := strings.Split(strings.TrimSpace(nd), "\n")
	var ev map[string]any
	if len(ndLines) != 1 || json.Unmarshal([]byte(ndLines[0]), &ev) != nil || ev["type"] != "login.failed" || ev["ip"] != "198.51.100.7" {
		t.Fatalf("NDJSON export of the filter:\n%s", nd)
	}
	_, _, exports := s.call("GET", "/api/admin/audit?type=admin.action&actor="+adminEmail, read, nil)
	if n := strings.Count(fmt.Sprint(exports["data"]), "export.audit"); n != 2 {
		t.Errorf("%d audited audit exports, want 2: %v", n, exports)
	}

	// The shared URL opens the same view; the actor link filters by email.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/audit"), chromedp.WaitVisible(chromedp.ID("audit-log")),
		chromedp.Click(chromedp.CSS(`#audit-log tr[data-type="session.ended"] [data-actor]`))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `new URLSearchParams(location.search).get("actor") === "`+adminEmail+`"`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#audit-log tr[data-type]')).map(r => r.dataset.type)`); len(got) == 0 || slicesContainsOnly(got, "login.failed", "login.succeeded", "user.registered") {
		t.Errorf("actor filter rows %v", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(shareable), chromedp.WaitVisible(chromedp.ID("audit-log"))); err != nil {
		t.Fatal(err)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#audit-log tr[data-type]').length`); n != 1 {
		t.Errorf("the shared URL shows %d rows", n)
	}

	// Verify chain.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#verify-form button`)), chromedp.WaitVisible(chromedp.ID("verify-result"))); err != nil {
		t.Fatal(err)
	}
	if ok := evalJS[string](t, ctx, `document.getElementById("verify-result").dataset.ok`); ok != "true" {
		t.Errorf("verify chain: %s", evalJS[string](t, ctx, `document.getElementById("verify-result").textContent`))
	}
	browsertest.CheckPage(t, ctx, "audit-verified")

	// A bad filter is a 400 page naming the field.
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(s.base+"/admin/audit?ip=not-an-ip"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 400 || !evalJS[bool](t, ctx, `document.querySelector('#audit-log .alert-error').textContent.includes("ip")`) {
		t.Errorf("bad ip: %d", resp.Status)
	}

	// Security page: four more failures from 198.51.100.7 make a burst of
	// five; the failed sign-ins tab names dave by email.
	for range 4 {
		s.loginFrom("198.51.100.7", uaChromeMac, "dave", "still not the password")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/security?kind=failed"), chromedp.WaitVisible(chromedp.ID("security-events"))); err != nil {
		t.Fatal(err)
	}
	if got := evalJS[string](t, ctx, `(document.querySelector('#bursts tr[data-burst="198.51.100.7"] .badge') || {}).textContent || ""`); got != "5" {
		t.Errorf("burst of 198.51.100.7 shows %q failures, want 5", got)
	}
	users := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#security-events tr[data-type] [data-user]')).map(u => u.textContent.trim())`)
	types = evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#security-events tr[data-type]')).map(r => r.dataset.type)`)
	if len(users) != 5 || users[0] != "dave@example.com" || !slicesContainsOnly(types, "login.failed") {
		t.Errorf("failed sign-ins tab: users %v, types %v", users, types)
	}
	browsertest.CheckPage(t, ctx, "security")
}

func slicesContainsOnly(have []string, only ...string) bool {
	for _, h := range have {
		ok := false
		for _, o := range only {
			ok = ok || h == o
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestBrowserDisconnectedBanner: with the server gone, the live stream
// and the poll both fail, and the page says "Disconnected — data as of
// HH:MM" instead of showing stale data as live.
func TestBrowserDisconnectedBanner(t *testing.T) {
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, nil))
	ctx := browsertest.Chrome(t)
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])
	if err := browsertest.Until(ctx, `document.getElementById("live-state").dataset.state === "on"`, 10*time.Second); err != nil {
		t.Fatalf("live stream: %v", err)
	}
	if hidden := evalJS[bool](t, ctx, `document.getElementById("offline-banner").hidden`); !hidden {
		t.Fatal("the disconnected banner shows while connected")
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `!document.getElementById("offline-banner").hidden`, 40*time.Second); err != nil {
		t.Fatalf("no disconnected banner after the server stopped: %v", err)
	}
	text := evalJS[string](t, ctx, `document.getElementById("offline-banner").textContent`)
	asOf := evalJS[string](t, ctx, `document.querySelector("#offline-banner time").textContent`)
	if !strings.Contains(text, "Disconnected") || !strings.Contains(text, "data as of") || len(asOf) < 4 || !strings.Contains(asOf, ":") {
		t.Errorf("banner %q (as of %q)", text, asOf)
	}
	if st := evalJS[string](t, ctx, `document.getElementById("live-state").dataset.state`); st != "down" {
		t.Errorf("live state %q", st)
	}
	browsertest.CheckPage(t, ctx, "disconnected")
}
