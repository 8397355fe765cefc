package web

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/browsertest"
)

func browserSignIn(t *testing.T, ctx context.Context, e *testEnv) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/admin/sessions"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), adminEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), adminPassword),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.ID("sessions-table")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

func TestBrowserLiveTableTerminateAndGeofence(t *testing.T) {
	e := newEnv(t) // before the browser: cleanups run last-in first-out, the browser must go first
	ctx := browsertest.Chrome(t)
	e.seed()
	browserSignIn(t, ctx, e)

	// A marker that a reload would erase.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__noReload = 1`)); err != nil {
		t.Fatal(err)
	}
	// Wait for the live stream before the login, so the event is not the 10 s poll.
	if err := browsertest.Until(ctx, `document.getElementById("live-state").dataset.state === "on"`, 5*time.Second); err != nil {
		t.Fatalf("live stream not connected: %v", err)
	}
	e.geo.set("203.0.113.77", sm.GeoResult{Location: sm.Location{CountryCode: "JP", CountryName: "Japan", City: "Tokyo", Latitude: 35.68, Longitude: 139.69, HasCoordinates: true, ISP: "NTT"}})
	res := e.login("dave@example.com", "203.0.113.77", uaFirefoxWin)
	sid := res.Session.ID
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
	if _, err := e.manager.Authenticate(context.Background(), res.AccessToken); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("the access token still works after terminate from the table: %v", err)
	}

	// Block Japan in the geo-fence through the settings page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/admin/settings"),
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
	_, err := e.manager.StartSession(context.Background(), e.user("frank@example.com"), sm.AuthPassword,
		sm.ClientInfo{IP: netip.MustParseAddr("203.0.113.77"), UserAgent: uaChromeMac})
	var se *sm.Error
	if !errors.As(err, &se) || se.Code != sm.EFORBIDDEN || se.Reason != sm.ReasonGeofence {
		t.Fatalf("login from the fenced country: %v", err)
	}
}

// TestBrowserScreenshots writes PNGs of every page at desktop and phone size.
func TestBrowserScreenshots(t *testing.T) {
	alerts := newMemAlerts()
	e := newEnv(t, withAlerts(alerts), func(d *Deps) { d.Demo = true })
	ctx := browsertest.Chrome(t)
	res := seedDemo(t, e)
	shoot, dir := screenshotter(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("form"))); err != nil {
		t.Fatal(err)
	}
	shoot("login-desktop")
	browserSignIn(t, ctx, e)
	alice := res["alice"]
	pages := []struct{ name, path, ready string }{
		{"home", "/admin/", "#home-live"},
		{"sessions", "/admin/sessions", "#sessions-table"},
		{"session", "/admin/sessions/" + alice.Session.ID, "main"},
		{"user", "/admin/users/" + alice.User.ID, "main"},
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
			if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready))); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			shoot(p.name + "-" + sz.name)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// screenshotter returns a function that saves a full-page PNG of the
// current page under $SM_ARTIFACTS_DIR/screenshots (../artifacts by
// default), and that directory.
func screenshotter(t *testing.T, ctx context.Context) (shoot func(name string), dir string) {
	dir = os.Getenv("SM_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
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

// seedDemo adds realistic activity: several places, a VPN, blocked Tor
// logins, an ended session, a blocked user.
func seedDemo(t *testing.T, e *testEnv) map[string]*sm.LoginResult {
	t.Helper()
	res := e.seed()
	places := []struct {
		ip   string
		loc  sm.Location
		thr  sm.Threat
		user string
		ua   string
	}{
		{"203.0.113.20", sm.Location{CountryCode: "GB", CountryName: "United Kingdom", City: "London", Latitude: 51.5, Longitude: -0.12, ISP: "British Telecommunications PLC"}, sm.Threat{}, "dan@example.com", uaChromeMac},
		{"203.0.113.21", sm.Location{CountryCode: "BR", CountryName: "Brazil", City: "São Paulo", Latitude: -23.55, Longitude: -46.63, ISP: "Telefonica Brasil S.A"}, sm.Threat{}, "erin@example.com", uaIPhone},
		{"203.0.113.22", sm.Location{CountryCode: "IN", CountryName: "India", City: "Bengaluru", Latitude: 12.97, Longitude: 77.59, ISP: "Bharti Airtel Ltd."}, sm.Threat{}, "farid@example.com", uaFirefoxWin},
		{"203.0.113.23", sm.Location{CountryCode: "AU", CountryName: "Australia", City: "Sydney", Latitude: -33.87, Longitude: 151.21, ISP: "Telstra Corporation Ltd"}, sm.Threat{}, "grace@example.com", uaIPhone},
		{"203.0.113.24", sm.Location{CountryCode: "JP", CountryName: "Japan", City: "Tokyo", Latitude: 35.68, Longitude: 139.69, ISP: "NTT Communications Corporation"}, sm.Threat{}, "hiro@example.com", uaChromeMac},
		{"203.0.113.25", sm.Location{CountryCode: "US", CountryName: "United States", City: "San Francisco", Latitude: 37.77, Longitude: -122.42, ISP: "Amazon.com, Inc."}, sm.Threat{Datacenter: true}, "ivan@example.com", "curl/8.5.0"},
		{"203.0.113.26", sm.Location{CountryCode: "DE", CountryName: "Germany", City: "Munich", Latitude: 48.14, Longitude: 11.58, ISP: "Vodafone GmbH"}, sm.Threat{}, "alice@example.com", uaIPhone},
		{"203.0.113.27", sm.Location{CountryCode: "ZA", CountryName: "South Africa", City: "Cape Town", Latitude: -33.92, Longitude: 18.42, ISP: "Vodacom"}, sm.Threat{Proxy: true}, "jana@example.com", uaFirefoxWin},
	}
	for _, p := range places {
		p.loc.HasCoordinates = true
		p.loc.Flag = sm.FlagEmoji(p.loc.CountryCode)
		e.geo.set(p.ip, sm.GeoResult{Location: p.loc, Threat: p.thr})
		r := e.login(p.user, p.ip, p.ua)
		res[p.user] = r
	}
	// Tor is blocked by the default policy: two blocked attempts.
	e.geo.set("192.0.2.66", sm.GeoResult{Location: sm.Location{CountryCode: "RO", CountryName: "Romania", City: "Bucharest", Latitude: 44.43, Longitude: 26.1, HasCoordinates: true}, Threat: sm.Threat{Tor: true}})
	for _, u := range []string{"bob@example.com", "grace@example.com"} {
		_, err := e.manager.StartSession(context.Background(), e.user(u), sm.AuthPassword, sm.ClientInfo{IP: netip.MustParseAddr("192.0.2.66"), UserAgent: uaFirefoxWin})
		if sm.ErrorCode(err) != sm.EFORBIDDEN {
			t.Fatalf("Tor login not blocked: %v", err)
		}
	}
	// An ended session and a blocked user.
	_ = e.manager.EndSession(context.Background(), res["alice"].Session.ID, sm.EndLogout, sm.Actor{Type: sm.ActorUser, ID: res["alice"].User.ID})
	res["alice2"] = e.login("alice@example.com", "203.0.113.10", uaChromeMac)
	if _, err := e.manager.SetBlocked(sm.WithActor(context.Background(), sm.Actor{Type: sm.ActorAdmin, ID: e.admin.ID, IP: "127.0.0.1"}), e.user("jana@example.com").ID, true); err != nil {
		t.Fatal(err)
	}
	return res
}
