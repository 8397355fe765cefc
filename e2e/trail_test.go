package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// TestBrowserSessionTrail: a real session (an API login from London to
// the real binary on PostgreSQL) gets trail entries through the real
// store API, as the session-protection flush writes them; Chromium then
// shows the suspected mark in the live table and, on the session page,
// each trail point on the map (numbered, joined, the one that fired a
// signal flagged) and in the list, at desktop and phone size, light and
// dark, without serious accessibility violations.
func TestBrowserSessionTrail(t *testing.T) {
	db := testenv.PostgresSchema(t)
	city := geotest.WriteDB(t, t.TempDir(), "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
	})
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, map[string]string{"DATABASE_URL": db, "SM_GEOIP_DB": city}))
	s.register("81.2.69.160", "trudy", "trudy@example.com", userPassword)
	code, login := s.callFrom("81.2.69.160", "POST", "/api/auth/local", "", map[string]any{"identifier": "trudy", "password": userPassword})
	if code != 200 {
		t.Fatalf("login: %d %v", code, login)
	}
	sid := str(login["session"].(map[string]any), "id")

	ctx := context.Background()
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Now().UTC().Truncate(time.Second)
	err = st.AppendTrail(ctx, []sm.TrailNote{
		{SessionID: sid, Entry: sm.TrailEntry{At: at.Add(time.Minute), IP: netip.MustParseAddr("89.160.20.112"), CountryCode: "SE", City: "Linköping",
			ASN: 29518, ISP: "Bredband2", Latitude: 58.4167, Longitude: 15.6167, Device: "Chrome/Windows"}},
		{SessionID: sid, Entry: sm.TrailEntry{At: at.Add(2 * time.Minute), IP: netip.MustParseAddr("5.9.10.11"), CountryCode: "DE", City: "Falkenstein",
			ASN: 24940, ISP: "Hetzner Online", Latitude: 50.4779, Longitude: 12.3713, Device: "Firefox/Linux",
			Signals: []string{"session_country_change", "session_device_change"}}, Suspected: "session_device_change"},
	})
	if err != nil {
		t.Fatal(err)
	}

	bctx := browsertest.Chrome(t)
	browserSignIn(t, bctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])
	row := fmt.Sprintf(`document.querySelector('#sessions-table tr[data-session=%q]')`, sid)
	if err := browsertest.Until(bctx, row+` !== null`, 10*time.Second); err != nil {
		t.Fatalf("the session is not in the live table: %v", err)
	}
	if got := evalJS[string](t, bctx, row+`.querySelector('[data-mark=suspected]')?.textContent || ""`); got != "suspected: Device changed" {
		t.Errorf("the live table's suspected mark: %q", got)
	}
	navigate(t, bctx, s.base+"/admin/sessions?suspected=true", "#sessions-table")
	if ids := evalJS[[]string](t, bctx, `Array.from(document.querySelectorAll('#sessions-table tr[data-session]')).map(tr => tr.dataset.session)`); len(ids) != 1 || ids[0] != sid {
		t.Errorf("suspected only lists %v, want [%s]", ids, sid)
	}
	if !evalJS[bool](t, bctx, `document.querySelector('input[name=suspected]').checked`) {
		t.Error("the 'suspected only' chip is not checked on its own list")
	}

	navigate(t, bctx, s.base+"/admin/sessions/"+sid, "#trail")
	entries := evalJS[[]string](t, bctx, `Array.from(document.querySelectorAll('#trail [data-trail-entry]')).map(li => li.dataset.trailEntry + " " + li.querySelector('strong').textContent)`)
	if want := []string{"89.160.20.112 Linköping, Sweden", "5.9.10.11 Falkenstein, Germany"}; fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("trail list %q, want %q", entries, want)
	}
	if got := evalJS[[]string](t, bctx, `Array.from(document.querySelectorAll('#trail .trail-flagged [data-signal]')).map(b => b.dataset.signal)`); fmt.Sprint(got) != "[session_country_change session_device_change]" {
		t.Errorf("the signals of the flagged move: %v", got)
	}
	stops := evalJS[[]string](t, bctx, `Array.from(document.querySelectorAll('svg.trailmap .trail-stop')).map(g => g.dataset.stop + (g.classList.contains('flagged') ? '!' : ''))`)
	if fmt.Sprint(stops) != "[0 1 2!]" {
		t.Errorf("map marks %v, want login, 1 and flagged 2", stops)
	}
	if n := evalJS[int](t, bctx, `(document.querySelector('svg.trailmap polyline.trail-line')?.getAttribute('points') || '').trim().split(/\s+/).filter(Boolean).length`); n != 3 {
		t.Errorf("the line joins %d points, want 3", n)
	}
	// Every mark is drawn inside the map's window (the viewBox follows the trail).
	outside := evalJS[int](t, bctx, `(() => { const svg = document.querySelector('svg.trailmap'); const r = svg.getBoundingClientRect();
		return Array.from(svg.querySelectorAll('.trail-stop circle')).filter(c => { const b = c.getBoundingClientRect();
		return b.width === 0 || b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1; }).length; })()`)
	if outside > 0 {
		t.Errorf("%d trail marks fall outside the map", outside)
	}
	if got := evalJS[string](t, bctx, `document.querySelector('.suspected-note')?.dataset.suspected || ""`); got != "session_device_change" {
		t.Errorf("the session page's suspected notice: %q", got)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	if wide := evalJS[bool](t, bctx, `document.documentElement.scrollWidth > window.innerWidth`); wide {
		t.Error("the session page scrolls sideways at 390 wide")
	}
	browsertest.CheckPage(t, bctx, "session-trail")
}
