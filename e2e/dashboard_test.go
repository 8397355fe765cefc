package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

func screenshot(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	dir := screenshotDir(t)
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1440, 900}, {"phone", 390, 844}} {
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(size.w, size.h),
			chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")), chromedp.Sleep(300*time.Millisecond))
		if err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "e2e-"+name+"-"+size.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900))
}

// TestDashboardEndToEnd drives the real service in real Chromium: sign in;
// a session made by an API login appears in the live table within 2s
// without a reload; terminating it from the table makes the user's next API
// call get 401; a geo-fence set in the settings page refuses a login.
func TestDashboardEndToEnd(t *testing.T) {
	dir := t.TempDir()
	city := geotest.WriteDB(t, dir, "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24":  geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
		"89.160.0.0/16": geotest.CityRec("SE", "Sweden", "Östergötland", "Linköping", 58.4167, 15.6167, "Europe/Stockholm"),
		"5.9.0.0/16":    geotest.CityRec("DE", "Germany", "Saxony", "Falkenstein", 50.4779, 12.3713, "Europe/Berlin"),
	})
	s := startServer(t, "serve", map[string]string{"SM_GEOIP_DB": city, "SM_TRUSTED_PROXIES": "127.0.0.1",
		"SM_ADMIN_EMAIL": "ops@example.com", "LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	ctx := browsertest.Chrome(t)
	if code, out := s.callFrom("81.2.69.160", "POST", "/api/auth/local/register", "", map[string]any{"username": "wanda", "email": "wanda@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/sessions"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ops@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), s.env["SM_ADMIN_PASSWORD"]),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.ID("sessions-table")),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = 1`),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if err := browsertest.Until(ctx, `document.getElementById("live-state").dataset.state === "on"`, 5*time.Second); err != nil {
		t.Fatalf("live stream: %v", err)
	}
	code, login := s.callFrom("89.160.20.112", "POST", "/api/auth/local", "", map[string]any{"identifier": "wanda", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("API login: %d %v", code, login)
	}
	sid := str(login["session"].(map[string]any), "id")
	if err := browsertest.Until(ctx, fmt.Sprintf(`document.querySelector('[data-session=%q]') !== null`, sid), 2*time.Second); err != nil {
		t.Fatalf("the API login did not appear in the live table within 2s: %v", err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload || 0`)); err != nil || v != 1 {
		t.Fatalf("the page reloaded (%d, %v)", v, err)
	}
	screenshot(t, ctx, s.base+"/admin/", "home")
	screenshot(t, ctx, s.base+"/admin/sessions", "sessions")
	screenshot(t, ctx, s.base+"/admin/sessions/"+sid, "session-detail")

	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/sessions"), chromedp.WaitVisible(chromedp.ID("sessions-table")),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-terminate=%q]`, sid)))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h, _ := s.call("GET", "/api/users/me", str(login, "jwt"), nil)
		if code == 401 && h.Get("X-Session-Terminated-Reason") == "manual" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after terminate from the table the API still answers %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The terminate form's POST and its redirect back to the table finish
	// before the next navigation; otherwise one aborts the other
	// (net::ERR_ABORTED).
	if err := browsertest.Until(ctx, fmt.Sprintf(`document.readyState === "complete" && document.getElementById("sessions-table") !== null && document.querySelector('[data-terminate=%q]') === null`, sid), 10*time.Second); err != nil {
		t.Fatalf("the table did not come back without the terminated session: %v", err)
	}

	// Geo-fence from the settings page: block Germany.
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/settings"),
		chromedp.WaitVisible(chromedp.ID("picker-blocked")),
		chromedp.SendKeys(chromedp.CSS(`#picker-blocked .picker-filter`), "Germany"),
		chromedp.Click(chromedp.CSS(`#list-blocked input[value=DE]`)),
		chromedp.Click(chromedp.CSS(`#geofence button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("settings page: %v", err)
	}
	for {
		code, out := s.callFrom("5.9.1.2", "POST", "/api/auth/local", "", map[string]any{"identifier": "wanda", "password": "correct horse battery"})
		if code == 403 && errReason(out) == "geofence" {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("the geo-fence set in the dashboard does not refuse a German login: %d %v", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	screenshot(t, ctx, s.base+"/admin/settings", "settings")
}
