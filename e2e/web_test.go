package e2e

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

const (
	adminEmail   = "admin@example.com"
	userPassword = "correct horse battery"
)

// dashboardEnv is the environment of a served dashboard: an admin, a
// licence of the edition, 127.0.0.1 trusted as a proxy (so the API calls
// come from the addresses the test names), plus extra.
func dashboardEnv(t *testing.T, edition license.Edition, extra map[string]string) map[string]string {
	env := map[string]string{"SM_ADMIN_EMAIL": adminEmail, "SM_TRUSTED_PROXIES": "127.0.0.1",
		"LICENSE_KEY": testLicense(t, edition)}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// browserSignIn signs in to the dashboard as the admin and waits for the
// sessions table.
func browserSignIn(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/sessions"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.ID("sessions-table")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// TestBrowserLiveTableTerminateAndGeofence: a login appears in the live
// table without a reload; terminating it from its row ends its access
// token; Japan blocked in the settings page refuses a login from Japan.
func TestBrowserLiveTableTerminateAndGeofence(t *testing.T) {
	city := geotest.WriteDB(t, t.TempDir(), "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"1.0.16.0/24":  geotest.CityRec("JP", "Japan", "Tokyo", "Tokyo", 35.68, 139.69, "Asia/Tokyo"),
		"81.2.69.0/24": geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
	})
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, map[string]string{"SM_GEOIP_DB": city}))
	ctx := browsertest.Chrome(t) // after the server: cleanups run last-in first-out, the browser must go first
	s.register("81.2.69.160", "dave", "dave@example.com", userPassword)
	s.register("81.2.69.161", "frank", "frank@example.com", userPassword)
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])

	// A marker that a reload would erase.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__noReload = 1`)); err != nil {
		t.Fatal(err)
	}
	// Wait for the live stream before the login, so the event is not the 10 s poll.
	if err := browsertest.Until(ctx, `document.getElementById("live-state").dataset.state === "on"`, 5*time.Second); err != nil {
		t.Fatalf("live stream not connected: %v", err)
	}
	code, res := s.loginFrom("1.0.16.77", uaFirefoxWin, "dave", userPassword)
	if code != 200 {
		t.Fatalf("login: %d %v", code, res)
	}
	sid := str(res["session"].(map[string]any), "id")
	if err := browsertest.Until(ctx, fmt.Sprintf(`document.querySelector('[data-session=%q]') !== null`, sid), 2*time.Second); err != nil {
		t.Fatalf("the new session did not appear in the table within 2s: %v", err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload || 0`)); err != nil || v != 1 {
		t.Fatalf("the page reloaded (marker %d, %v)", v, err)
	}

	// Terminate it from its row (the confirm dialog is accepted).
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-terminate=%q]`, sid)))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector(".flash") !== null`, 10*time.Second); err != nil {
		t.Fatalf("no confirmation after terminate: %v", err)
	}
	if code, _, out := s.call("GET", "/api/users/me", str(res, "jwt"), nil); code != http.StatusUnauthorized {
		t.Fatalf("the access token still works after terminate from the table: %d %v", code, out)
	}

	// Block Japan in the geo-fence through the settings page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/admin/settings"),
		chromedp.WaitVisible(chromedp.ID("picker-blocked")),
		chromedp.SendKeys(chromedp.CSS(`#picker-blocked .picker-filter`), "Japan"),
		chromedp.Click(chromedp.CSS(`#list-blocked input[value=JP]`)),
		chromedp.Click(chromedp.CSS(`#geofence button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector(".flash") !== null`, 10*time.Second); err != nil {
		t.Fatalf("geo-fence not saved: %v", err)
	}
	if code, out := s.loginFrom("1.0.16.77", uaChromeMac, "frank", userPassword); code != http.StatusForbidden || errReason(out) != "geofence" {
		t.Fatalf("login from the fenced country: %d %v", code, out)
	}
}

// TestBrowserScreenshots writes PNGs of every page at desktop and phone
// size, light and dark, of `sessionmanager demo`: realistic activity from
// many places, VPN and datacenter logins, blocked Tor logins, ended sessions.
func TestBrowserScreenshots(t *testing.T) {
	s := startServer(t, "demo", nil)
	ctx := browsertest.Chrome(t)
	shoot, dir := screenshotter(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("form"))); err != nil {
		t.Fatal(err)
	}
	shoot("login-desktop")
	browserSignIn(t, ctx, s.base, "demo@localhost", "demo password")
	// A seeded session and its user, as the table links them.
	if err := browsertest.Until(ctx, `document.querySelector('#sessions-table [data-session] a[href^="/admin/users/"]') !== null`, 30*time.Second); err != nil {
		t.Fatalf("no demo session in the table: %v", err)
	}
	sid, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#sessions-table [data-session]').dataset.session`))
	if err != nil {
		t.Fatal(err)
	}
	userPath, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#sessions-table [data-session] a[href^="/admin/users/"]').getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	pages := []struct{ name, path, ready string }{
		{"home", "/admin/", "#home-live"},
		{"sessions", "/admin/sessions", "#sessions-table"},
		{"session", "/admin/sessions/" + sid, "main"},
		{"user", userPath, "main"},
		{"security", "/admin/security", "#security-events"},
		{"settings", "/admin/settings", "#geofence"},
		{"analytics", "/admin/analytics", "main"},
		{"account", "/admin/account", "#admin-sessions"},
	}
	sizes := []struct {
		name string
		w, h int64
		dark bool
	}{{"desktop", 1440, 900, false}, {"phone", 390, 844, false}, {"desktop-dark", 1440, 900, true}, {"phone-dark", 390, 844, true}}
	for _, sz := range sizes {
		scheme := "light"
		if sz.dark {
			scheme = "dark"
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(sz.w, sz.h)); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			if sz.dark && p.name != "home" && p.name != "sessions" && p.name != "settings" {
				continue // dark mode: a sample is enough
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(s.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready))); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			shoot(p.name + "-" + sz.name)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// screenshotDir is $SM_ARTIFACTS_DIR/screenshots (../artifacts by
// default), created.
func screenshotDir(t *testing.T) string {
	t.Helper()
	return browsertest.ArtifactsDir(t, "screenshots")
}

// screenshotter returns a function that saves a full-page PNG of the
// current page in screenshotDir, and that directory.
func screenshotter(t *testing.T, ctx context.Context) (shoot func(name string), dir string) {
	dir = screenshotDir(t)
	return func(name string) {
		t.Helper()
		// Let the map image settle.
		_ = browsertest.Until(ctx, `Array.from(document.images).every(i => i.complete) && document.readyState === "complete"`, 5*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}, dir
}

// failingTorFeed serves the Tor exit list over HTTPS and answers 503; it
// returns the list's URL, the source name the service gives it and a CA
// file for SSL_CERT_FILE that trusts the server.
func failingTorFeed(t *testing.T) (feedURL, source, caFile string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	return srv.URL + "/torbulkexitlist", "tor-" + u.Host + "/torbulkexitlist", caFile
}

// TestBrowserDataSourcesAndLocks opens the data page and the banner in
// Chromium, checks the locked inputs are disabled there, and saves
// screenshots. The sources are real: a DB-IP ASN file (no country data),
// and a Tor list whose server answers 503.
func TestBrowserDataSourcesAndLocks(t *testing.T) {
	asn := geotest.WriteDB(t, t.TempDir(), "dbip-asn-lite.mmdb", "DBIP-ASN-Lite (compat=GeoLite2-ASN)", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": geotest.ASNRec(2856, "British Telecommunications PLC"),
	})
	torURL, torSource, caFile := failingTorFeed(t)
	// Premium: geolocation is on (so missing country data is a warning),
	// geo-fencing, threat detection and blocking are locked.
	s := startServer(t, "serve", dashboardEnv(t, license.EditionPremium, map[string]string{
		"SM_GEOIP_DB": asn, "SM_GEO_BUILTIN": "off", "SM_THREAT_FEEDS": "tor", "SM_TOR_EXITS": torURL, "SSL_CERT_FILE": caFile}))
	read := s.adminToken("read")
	// The first download of the Tor list has failed (a functional wait).
	deadline := time.Now().Add(30 * time.Second)
	for !sourceFailed(t, s, read, torSource, "HTTP 503") {
		if time.Now().After(deadline) {
			t.Fatalf("source %s shows no HTTP 503\n%s", torSource, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx := browsertest.Chrome(t)
	s.register("81.2.69.160", "dave", "dave@example.com", userPassword)
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])
	shoot, dir := screenshotter(t, ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900), chromedp.WaitVisible(chromedp.ID("config-warnings"))); err != nil {
		t.Fatalf("no warning banner on the sessions page: %v", err)
	}
	shoot("banner-sessions-desktop")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#config-warnings a`)), chromedp.WaitVisible(chromedp.ID("sources"))); err != nil {
		t.Fatalf("banner link: %v", err)
	}
	checks := map[string]string{
		"warnings listed":    `document.querySelector('[data-warning="no_country_data"]') !== null`,
		"tor feed error":     fmt.Sprintf(`document.querySelector('[data-source=%q]').textContent.includes("HTTP 503")`, torSource),
		"DB-IP link":         `document.querySelector('#dbip-attribution a').href === "https://db-ip.com/"`,
		"country missing":    `document.querySelector('[data-capability="country"]').textContent.includes("missing")`,
		"nav entry selected": `document.querySelector('.nav-link.active').textContent.includes("Data sources")`,
	}
	for name, js := range checks {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil || !ok {
			t.Errorf("data page: %s: %v %v", name, ok, err)
		}
	}
	shoot("data-sources-desktop")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/admin/settings"), chromedp.WaitVisible(chromedp.ID("geofence"))); err != nil {
		t.Fatal(err)
	}
	locked := map[string]string{
		"geo-fence inputs disabled": `document.querySelector('#list-allowed input[value=DE]').matches(":disabled")`,
		"lock badge names Advanced": `document.querySelector('#geofence [data-lock]').textContent.includes("Advanced")`,
		// A locked row keeps its action and the weaker ones (the gate
		// accepts turning an action down), never a stronger one.
		"Tor policy can be turned down":      `document.querySelector('input[name="action.tor"][value=block]').checked && !document.querySelector('input[name="action.tor"][value=alert]').disabled`,
		"datacenter policy cannot be raised": `document.querySelector('input[name="action.datacenter"][value=alert]').disabled && !document.querySelector('input[name="action.datacenter"][value=allow]').disabled`,
		"free setting enabled":               `!document.querySelector('input[name=maxSessionsPerUser]').disabled`,
	}
	for name, js := range locked {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil || !ok {
			t.Errorf("settings: %s: %v %v", name, ok, err)
		}
	}
	shoot("settings-locked-desktop")
	// The policy form, saved from the browser with its locked inputs
	// disabled, stores the free setting.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`input[name=maxSessionsPerUser]`), "2"),
		chromedp.Click(chromedp.CSS(`#policy button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.querySelector(".flash") !== null`, 10*time.Second); err != nil {
		t.Fatalf("policy not saved from the browser: %v", err)
	}
	if n, _ := s.settings(read)["maxSessionsPerUser"].(float64); n != 2 {
		t.Fatalf("maxSessionsPerUser %v after the browser saved 2", n)
	}
	t.Logf("screenshots in %s", dir)
}

// sourceFailed reports whether the geo status lists the source with an
// error containing want.
func sourceFailed(t *testing.T, s *server, token, source, want string) bool {
	t.Helper()
	code, _, body := s.call("GET", "/api/admin/geo/status", token, nil)
	data, _ := body["data"].(map[string]any)
	if code != 200 || data == nil {
		t.Fatalf("geo status: %d %v", code, body)
	}
	sources, _ := data["sources"].([]any)
	for _, src := range sources {
		src, _ := src.(map[string]any)
		if str(src, "name") == source && strings.Contains(str(src, "lastError"), want) {
			return true
		}
	}
	return false
}
