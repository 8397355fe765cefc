package web

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// reportingGeo is the test resolver plus a status report: a stand-in for
// package geo's resolver, which describes its real sources the same way.
type reportingGeo struct {
	*testGeo
	mu sync.Mutex
	st sm.GeoStatus
}

func (g *reportingGeo) GeoStatus() sm.GeoStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st
}

func (g *reportingGeo) set(sources ...sm.GeoSource) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.st = sm.NewGeoStatus(sources, true)
}

var (
	asnSource = sm.GeoSource{Name: "builtin-asn", Provides: []string{sm.GeoASN}, Origin: "builtin", Format: "csv", Records: 512034,
		DataDate: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), License: "CC BY 4.0", Attribution: "ASN data by DB-IP and RouteViews",
		AttributionURL: "https://db-ip.com", Enabled: true}
	torSource = sm.GeoSource{Name: "tor-exits", Provides: []string{sm.GeoTor}, Origin: "https://check.torproject.org/torbulkexitlist", Format: "plain",
		RefreshInterval: sm.Duration(time.Hour), LastAttempt: time.Now().Add(-5 * time.Minute), LastError: "HTTP 503 from the server", Enabled: true}
	countrySource = sm.GeoSource{Name: "builtin-country", Provides: []string{sm.GeoCountry}, Origin: "builtin", Records: 420000,
		DataDate: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), License: "CC0", Enabled: true}
)

func newDataEnv(t *testing.T, gate license.Edition, opts ...envOption) (*testEnv, *reportingGeo) {
	t.Helper()
	geo := &reportingGeo{testGeo: &testGeo{ips: map[netip.Addr]sm.GeoResult{}}}
	geo.set(asnSource, torSource)
	e := newEnvConfig(t, func(c *sm.Config) {
		c.Geo = geo
		if gate != "" {
			c.Allows = func(f string) bool { return slices.Contains(gate.Features(), f) }
			c.Unlocks = func(f string) string { return string(license.Unlocks(f)) }
		}
	}, opts...)
	e.geo = geo.testGeo
	return e, geo
}

// TestDataSourcesPageAndBanner: the page lists each source with records,
// date, refresh, last error and licence (with the DB-IP link), the
// capabilities and the warnings; every page shows a banner while there are
// warnings, and it goes when the settings stop needing missing data.
func TestDataSourcesPageAndBanner(t *testing.T) {
	e, geo := newDataEnv(t, license.EditionAdvanced)
	c := e.client()
	c.signIn()
	resp, body := c.get("/admin/data")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("data page: %d", resp.StatusCode)
	}
	for _, want := range []string{`data-source="builtin-asn"`, "512\u202f034", "CC BY 4.0", "ASN data by DB-IP and RouteViews",
		`data-source="tor-exits"`, "HTTP 503 from the server", "every 1h0m0s", `id="dbip-attribution"`, `href="https://db-ip.com"`,
		`data-warning="no_country_data"`, `data-warning="tor_no_data"`, `<code>SM_TOR_EXITS</code>`, `nav-link active`, "Data sources"} {
		if !strings.Contains(body, want) {
			t.Errorf("data page lacks %q", want)
		}
	}
	if strings.Contains(body, `id="config-warnings"`) {
		t.Error("the data page shows the banner on top of its own list")
	}
	_, home := c.get("/admin/")
	if !strings.Contains(home, `id="config-warnings"`) || !strings.Contains(home, `href="/admin/data#warnings"`) {
		t.Fatal("no warning banner on the overview while there are warnings")
	}

	// Data for every capability the default policies use, and policies that
	// ask for nothing else: no warning, no banner.
	geo.set(asnSource, countrySource, sm.GeoSource{Name: "feeds", Provides: []string{sm.GeoTor, sm.GeoVPN, sm.GeoProxy, sm.GeoThreat}, Origin: "builtin", Records: 10, Enabled: true})
	if _, home = c.get("/admin/"); strings.Contains(home, `id="config-warnings"`) {
		t.Fatal("banner with every source present")
	}
	if _, body = c.get("/admin/data"); strings.Contains(body, "data-warning=") || strings.Contains(body, `id="dbip-attribution"`) == false {
		t.Fatal("data page: warnings listed with every source present, or the DB-IP link is gone")
	}
	// An allow list with no country data is a warning again.
	geo.set(asnSource)
	if _, err := e.manager.UpdateSettings(sm.WithActor(context.Background(), sm.Actor{Type: sm.ActorAdmin}), []byte(`{"allowedCountries":["DE"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, body = c.get("/admin/data"); !strings.Contains(body, `data-warning="geofence_no_country_data"`) {
		t.Fatal("no warning for an allow list without country data")
	}
}

// TestSettingsLockedSections: on Free, the locked sections carry a lock
// badge naming the edition and their inputs are disabled; a locked change
// posted anyway is refused (403) and not stored; the policy form posted as
// the browser sends it (without the disabled inputs) still saves.
func TestSettingsLockedSections(t *testing.T) {
	e, _ := newDataEnv(t, license.EditionFree, withAlerts(newMemAlerts()))
	c := e.client()
	c.signIn()
	_, body := c.get("/admin/settings")
	for _, want := range []string{`data-lock="geofence"`, `data-lock="risk"`, `data-lock="threat"`, `#lock"></use></svg>Advanced`, `#lock"></use></svg>Premium`,
		`<fieldset class="lock stack" disabled>`, `name="scoreThreshold" min="0" max="100" value="40" disabled`,
		`data-lock="alerts"`, `type="submit" disabled>Create rule</button>`, `name="maxSessionsPerUser" min="0" value="0" aria-describedby`} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	resp, body := c.post("/admin/settings/geofence", url.Values{"allowed": {"DE"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Advanced edition unlocks") {
		t.Fatalf("locked geo-fence posted: %d", resp.StatusCode)
	}
	if st, _ := e.manager.Settings(context.Background()); len(st.AllowedCountries) != 0 {
		t.Fatalf("a locked allow list was stored: %v", st.AllowedCountries)
	}
	// What a browser posts from the locked policy form: only the free field.
	resp, _ = c.post("/admin/settings/policy", url.Values{"maxSessionsPerUser": {"4"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("policy form without its locked inputs: %d", resp.StatusCode)
	}
	if st, _ := e.manager.Settings(context.Background()); st.MaxSessionsPerUser != 4 || st.Actions.Tor != sm.ActionBlock {
		t.Fatalf("policy: %+v", st)
	}
}

// TestSettingsSessionProtection: the session protection section stores
// its actions and limit on Advanced, names a bad action by its field, and
// on Free shows the lock and refuses a change (feature_locked) instead of
// storing what would be ignored.
func TestSettingsSessionProtection(t *testing.T) {
	e, _ := newDataEnv(t, license.EditionAdvanced)
	c := e.client()
	c.signIn()
	_, body := c.get("/admin/settings")
	if !strings.Contains(body, `name="session.deviceChangeOnRefresh" value="terminate" checked`) {
		t.Fatal("the default terminate on a refresh from another device is not shown")
	}
	resp, _ := c.post("/admin/settings/protection", url.Values{"session.countryChange": {"terminate"}, "refreshAnomalyPerMinute": {"9"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	st, _ := e.manager.Settings(context.Background())
	if st.SessionActions.CountryChange != sm.ActionTerminate || st.RefreshAnomalyPerMinute != 9 || st.SessionActions.DeviceChangeOnRefresh != sm.ActionTerminate {
		t.Fatalf("stored: %+v %d", st.SessionActions, st.RefreshAnomalyPerMinute)
	}
	resp, body = c.post("/admin/settings/protection", url.Values{"session.ipChange": {"block"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "choose allow, alert, challenge or terminate") {
		t.Fatalf("bad action: %d", resp.StatusCode)
	}

	free, _ := newDataEnv(t, license.EditionFree)
	fc := free.client()
	fc.signIn()
	if _, body := fc.get("/admin/settings"); !strings.Contains(body, `data-lock="session_protection"`) {
		t.Fatal("Free does not say session protection is locked")
	}
	resp, _ = fc.post("/admin/settings/protection", url.Values{"session.countryChange": {"terminate"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("locked change: %d", resp.StatusCode)
	}
	// Locked, the form still turns protection down: a row offers its own
	// action and the weaker ones, the limit and the button stay enabled.
	_, body = fc.get("/admin/settings")
	for _, want := range []string{
		`name="session.deviceChangeOnRefresh" value="allow">`, `name="session.deviceChangeOnRefresh" value="terminate" checked>`,
		`name="session.countryChange" value="alert" checked>`, `name="session.countryChange" value="terminate" disabled>`,
		`name="session.countryChange" value="challenge" disabled>`,
		`name="refreshAnomalyPerMinute" min="0" value="6" max="6"`, `<button class="btn btn-primary" type="submit">Save session protection</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("locked session protection form lacks %q", want)
		}
	}
	// What a browser posts after turning two rows down and the limit off.
	form := url.Values{"refreshAnomalyPerMinute": {"0"}}
	cur, err := free.manager.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sm.SessionActionKeys() {
		form.Set("session."+k, string(*cur.SessionActions.ByKey(k)))
	}
	form.Set("session.deviceChangeOnRefresh", "alert")
	form.Set("session.countryChange", "allow")
	if resp, body := fc.post("/admin/settings/protection", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("turning locked protection down: %d %.300s", resp.StatusCode, body)
	}
	st, _ = free.manager.Settings(context.Background())
	if st.SessionActions.DeviceChangeOnRefresh != sm.ActionAlert || st.SessionActions.CountryChange != sm.ActionAllow || st.RefreshAnomalyPerMinute != 0 {
		t.Fatalf("turned down on Free: %+v %d", st.SessionActions, st.RefreshAnomalyPerMinute)
	}
}
