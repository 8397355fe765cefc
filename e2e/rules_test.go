package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestBrowserAlertRuleBuilder drives the alert-rule builder in Chromium:
// a rule made through the form (triggers as checkboxes, a webhook channel
// with its fields) with a bad condition and a short secret is refused with
// the condition's error at the right line and column (not a token the
// admin never wrote) and the secret field named but not echoed; fixed, it
// is saved with the confirmation in its own card; tried against a recent
// real login it shows it would fire, and nothing is delivered. The session
// timeouts are changed on the same page and say they are set there.
func TestBrowserAlertRuleBuilder(t *testing.T) {
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, nil))
	ctx := browsertest.Chrome(t)
	read := s.adminToken("read")
	s.register("81.2.69.160", "dave", "dave@example.com", userPassword)
	if code, out := s.loginFrom("81.2.69.161", uaFirefoxWin, "dave", userPassword); code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])
	const shortSecret = "s3cr3t-short"
	form := `#rule-new`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/settings#rules"),
		chromedp.WaitVisible(chromedp.CSS(`.new-rule summary`)),
		chromedp.Click(chromedp.CSS(`.new-rule summary`)),
		chromedp.WaitVisible(chromedp.CSS(form+` input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(form+` input[name=name]`), "Dave signs in"),
		chromedp.Click(chromedp.CSS(form+` input[name=trigger][value=new_country]`)), // on by default: off
		chromedp.SetValue(chromedp.CSS(form+` select[name="channels.0.type"]`), "webhook"),
		chromedp.SendKeys(chromedp.CSS(form+` input[name="channels.0.url"]`), "https://203.0.113.10/hook"),
		chromedp.SendKeys(chromedp.CSS(form+` input[name="channels.0.secret"]`), shortSecret),
		chromedp.SendKeys(chromedp.CSS(form+` textarea[name=condition]`), `event.score < 50 &&`),
		chromedp.Click(chromedp.CSS(form+` button.btn-primary`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector('#rule-new [data-field=condition]') !== null`, 10*time.Second); err != nil {
		t.Fatalf("no condition error: %v", err)
	}
	condErr := evalJS[string](t, ctx, `document.querySelector('#rule-new [data-field=condition]').textContent`)
	if !strings.HasPrefix(condErr, "line 1 column 20: ") || strings.Contains(condErr, "token )") {
		t.Errorf("condition error %q, want line 1 column 20 and no ')' the admin never wrote", condErr)
	}
	secretErr := evalJS[string](t, ctx, `(document.querySelector('#rule-new [data-field="channels[0].secret"]') || {}).textContent || ""`)
	if !strings.Contains(secretErr, "Signing secret") {
		t.Errorf("secret error %q does not name the signing secret field", secretErr)
	}
	if html := evalJS[string](t, ctx, `document.documentElement.outerHTML`); strings.Contains(html, shortSecret) {
		t.Error("the refused page echoes the secret")
	}
	// The name, triggers and channel typed stay in the form.
	if name := evalJS[string](t, ctx, `document.querySelector('#rule-new input[name=name]').value`); name != "Dave signs in" {
		t.Errorf("name kept as %q", name)
	}
	browsertest.CheckPage(t, ctx, "alert-rule-refused")

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(form+` input[name="channels.0.secret"]`), "whsec-browser-builder-1234"),
		chromedp.SetValue(chromedp.CSS(form+` textarea[name=condition]`), `event.user.username === "dave"`),
		chromedp.Click(chromedp.CSS(form+` button.btn-primary`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `location.search.includes("rule=") && document.querySelector('.rule-editor .flash') !== null`, 10*time.Second); err != nil {
		t.Fatalf("rule not saved: %v", err)
	}
	_, _, rules := s.call("GET", "/api/admin/alerts/rules", read, nil)
	list, _ := rules["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("rules: %v", rules)
	}
	rule := list[0].(map[string]any)
	id := str(rule, "id")
	if trig, _ := rule["triggers"].([]any); str(rule, "name") != "Dave signs in" || len(trig) != 0 || str(rule, "condition") != `event.user.username === "dave"` {
		t.Fatalf("saved rule: %v", rule)
	}
	card := fmt.Sprintf(`#rule-%s`, id)
	if got := evalJS[string](t, ctx, `location.hash`); got != "#rule-"+id {
		t.Errorf("after saving, the page is at %q, not the rule's card", got)
	}
	if !evalJS[bool](t, ctx, `document.querySelector('`+card+` .flash') !== null`) {
		t.Error("the save confirmation is not in the rule's card")
	}

	// Try it against dave's login (the newest event in the list).
	label := evalJS[string](t, ctx, `document.querySelector('`+card+` select[name=event] option').textContent`)
	if !strings.Contains(label, "dave@example.com") {
		t.Errorf("the event offered reads %q, want the user's email", label)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(card+` button[formaction$="/try#try-`+id+`"]`))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector('`+card+` .trial') !== null`, 10*time.Second); err != nil {
		t.Fatalf("no trial result: %v", err)
	}
	if fires := evalJS[string](t, ctx, `document.querySelector('`+card+` .trial').dataset.fires`); fires != "true" {
		t.Errorf("trial: %s", evalJS[string](t, ctx, `document.querySelector('`+card+` .trial').textContent`))
	}
	browsertest.CheckPage(t, ctx, "alert-rule-trial")
	if _, _, ds := s.call("GET", "/api/admin/alerts/deliveries", read, nil); len(ds["data"].([]any)) != 0 {
		t.Fatalf("trying the rule delivered: %v", ds)
	}

	// Session timeouts, on the same page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/settings#timeouts"),
		chromedp.WaitVisible(chromedp.CSS(`#timeouts input[name=inactivityTimeout]`)),
		chromedp.SendKeys(chromedp.CSS(`#timeouts input[name=inactivityTimeout]`), "5m"),
		chromedp.Click(chromedp.CSS(`#timeouts button.btn-primary`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `location.search.includes("done=timeouts") && document.getElementById("timeouts-saved") !== null`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := evalJS[string](t, ctx, `document.querySelector('[data-in-force=inactivityTimeout]').textContent`); !strings.Contains(got, "5m0s") || !strings.Contains(got, "set here") {
		t.Errorf("inactivity timeout in force reads %q", got)
	}
	browsertest.CheckPage(t, ctx, "settings-timeouts")
}
