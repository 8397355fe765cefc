package sessionmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/risk"
)

// editionGate is the licence gate of an edition, from the product table.
func editionGate(ed license.Edition) func(*sm.Config) {
	return func(c *sm.Config) {
		c.Allows = func(f string) bool { return slices.Contains(ed.Features(), f) }
		c.Unlocks = func(f string) string { return string(license.Unlocks(f)) }
		c.ValidateSettings = risk.NormalizeSettings
	}
}

// statusGeo is a GeoResolver that reports a fixed status: a stand-in for
// package geo's resolver, which reports its real sources.
type statusGeo struct{ st sm.GeoStatus }

func (g statusGeo) Lookup(context.Context, netip.Addr) (sm.GeoResult, error) {
	return sm.GeoResult{}, nil
}
func (g statusGeo) GeoStatus() sm.GeoStatus { return g.st }

// plainGeo is a GeoResolver that cannot describe its sources.
type plainGeo struct{}

func (plainGeo) Lookup(context.Context, netip.Addr) (sm.GeoResult, error) { return sm.GeoResult{}, nil }

func source(name string, records int, provides ...string) sm.GeoSource {
	return sm.GeoSource{Name: name, Provides: provides, Origin: "builtin", Records: records, Enabled: true}
}

func codes(ws []sm.ConfigWarning) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

func TestConfigWarnings(t *testing.T) {
	all := sm.NewGeoStatus([]sm.GeoSource{
		source("country", 10, sm.GeoCountry, sm.GeoASN, sm.GeoDatacenter),
		source("tor", 10, sm.GeoTor), source("vpn", 10, sm.GeoVPN, sm.GeoProxy), source("drop", 10, sm.GeoThreat),
	}, true)
	countryOnly := sm.NewGeoStatus([]sm.GeoSource{source("country", 10, sm.GeoCountry), source("tor", 0, sm.GeoTor)}, true)
	none := sm.NewGeoStatus(nil, false)
	fenced := sm.DefaultSettings()
	fenced.AllowedCountries = []string{"DE"}
	quiet := sm.DefaultSettings()
	quiet.Actions = sm.Actions{VPN: sm.ActionAllow, Proxy: sm.ActionAllow, Tor: sm.ActionAllow, Datacenter: sm.ActionAllow, Threat: sm.ActionAllow, Geofence: sm.ActionBlock, LowScore: sm.ActionAlert}
	challenging := *quiet
	challenging.Actions.VPN, challenging.Actions.NewDevice = sm.ActionChallenge, sm.ActionChallenge
	free := func(string) bool { return false }
	premium := func(f string) bool { return slices.Contains(license.EditionPremium.Features(), f) }
	cases := []struct {
		name string
		in   sm.WarningInput
		want []string
	}{
		{"every source", sm.WarningInput{Settings: fenced, Geo: all, AlertTriggers: []string{"new_country", "tor"}}, []string{}},
		{"no source, default policies", sm.WarningInput{Geo: none},
			[]string{sm.WarnNoCountryData, sm.WarnTorNoData, sm.WarnVPNNoData, sm.WarnProxyNoData, sm.WarnThreatNoData}},
		{"allow list without country data", sm.WarningInput{Settings: fenced, Geo: none},
			[]string{sm.WarnNoCountryData, sm.WarnGeofenceNoCountry, sm.WarnTorNoData, sm.WarnVPNNoData, sm.WarnProxyNoData, sm.WarnThreatNoData}},
		{"Tor list with no records", sm.WarningInput{Settings: quiet, Geo: countryOnly, AlertTriggers: []string{"tor"}}, []string{sm.WarnTorNoData}},
		{"alert triggers alone", sm.WarningInput{Settings: quiet, Geo: none, AlertTriggers: []string{"new_country", "datacenter"}},
			[]string{sm.WarnNoCountryData, sm.WarnNewCountryNoCountry, sm.WarnDatacenterNoData}},
		{"policies allow everything", sm.WarningInput{Settings: quiet, Geo: countryOnly}, []string{}},
		{"Free: nothing is on", sm.WarningInput{Settings: fenced, Geo: none, Allows: free, AlertTriggers: []string{"new_country"}}, []string{}},
		{"Premium: geo but no fence, threat or alerts", sm.WarningInput{Settings: fenced, Geo: none, Allows: premium, AlertTriggers: []string{"new_country"}},
			[]string{sm.WarnNoCountryData}},
		{"untrusted X-Forwarded-For", sm.WarningInput{Settings: quiet, Geo: all, UntrustedForwardedFor: 3, UntrustedPeer: "10.0.0.9"}, []string{sm.WarnUntrustedProxy}},
		{"challenge without email codes", sm.WarningInput{Settings: &challenging, Geo: all}, []string{sm.WarnChallengeNoEmail}},
		{"challenge with email codes", sm.WarningInput{Settings: &challenging, Geo: all, EmailCodes: true}, []string{}},
		{"challenge locked by the edition", sm.WarningInput{Settings: &challenging, Geo: all, Allows: premium}, []string{}},
	}
	// The challenge warning names the factors that remain.
	if w := sm.ConfigWarnings(sm.WarningInput{Settings: &challenging, Geo: all}); len(w) != 1 ||
		!strings.Contains(w[0].Message, "vpn, newDevice") || !strings.Contains(w[0].Message, "passkeys are off too") {
		t.Errorf("challenge without email codes or passkeys: %+v", w)
	}
	// A session action set to challenge asks for a step-up that email
	// codes cannot answer either: the same warning, naming the action.
	sessionChallenging := *quiet
	sessionChallenging.SessionActions.DeviceChange = sm.ActionChallenge
	w := sm.ConfigWarnings(sm.WarningInput{Settings: &sessionChallenging, Geo: all, Passkeys: true})
	if len(w) != 1 || w[0].Code != sm.WarnChallengeNoEmail || !strings.Contains(w[0].Setting, "sessionActions (deviceChange)") ||
		!strings.Contains(w[0].Message, "deviceChange") || !strings.Contains(w[0].Message, "TOTP or a passkey") {
		t.Errorf("session challenge without email codes: %+v", w)
	}
	both := challenging
	both.SessionActions.DeviceChange = sm.ActionChallenge
	if w := sm.ConfigWarnings(sm.WarningInput{Settings: &both, Geo: all}); len(w) != 1 ||
		!strings.Contains(w[0].Setting, "actions (vpn, newDevice)") || !strings.Contains(w[0].Setting, "sessionActions (deviceChange)") {
		t.Errorf("login and session challenges without email codes: %+v", w)
	}
	noProtect := func(f string) bool { return f != sm.FeatureProtect }
	for name, in := range map[string]sm.WarningInput{
		"email codes":               {Settings: &sessionChallenging, Geo: all, EmailCodes: true},
		"session protection locked": {Settings: &sessionChallenging, Geo: all, Allows: noProtect},
		"no judge of live sessions": {Settings: &sessionChallenging, Geo: all, NoSessionJudge: true},
	} {
		if w := sm.ConfigWarnings(in); slices.Contains(codes(w), sm.WarnChallengeNoEmail) {
			t.Errorf("session challenge with %s: %+v", name, w)
		}
	}
	// Setup warnings show while the edition allows what they concern.
	setup := []sm.SetupWarning{{Needs: sm.FeatureChallenge, ConfigWarning: sm.ConfigWarning{Code: sm.WarnPasskeysOff, Message: "off"}}}
	if w := sm.ConfigWarnings(sm.WarningInput{Settings: quiet, Geo: all, Setup: setup}); len(w) != 1 || w[0].Code != sm.WarnPasskeysOff {
		t.Errorf("setup warning: %+v", w)
	}
	if w := sm.ConfigWarnings(sm.WarningInput{Settings: quiet, Geo: all, Setup: setup, Allows: premium}); len(w) != 0 {
		t.Errorf("setup warning of a feature the edition lacks: %+v", w)
	}
	// A feed that failed is named with its error.
	failing := sm.NewGeoStatus([]sm.GeoSource{{Name: "tor-exits", Provides: []string{sm.GeoTor}, Enabled: true, LastError: "HTTP 503"}}, true)
	if w := sm.ConfigWarnings(sm.WarningInput{Settings: quiet, Geo: failing, AlertTriggers: []string{"tor"}}); len(w) < 2 ||
		!strings.Contains(w[1].Message, "tor-exits failed: HTTP 503") {
		t.Errorf("the failing Tor feed is not named: %+v", w)
	}
	// A feed not downloaded yet is named with its note, not as a failure.
	pending := sm.NewGeoStatus([]sm.GeoSource{{Name: "tor-exits", Provides: []string{sm.GeoTor}, Enabled: true, Note: "not downloaded yet"}}, true)
	if w := sm.ConfigWarnings(sm.WarningInput{Settings: quiet, Geo: pending, AlertTriggers: []string{"tor"}}); len(w) < 2 ||
		!strings.Contains(w[1].Message, "tor-exits: not downloaded yet") || strings.Contains(w[1].Message, "failed") {
		t.Errorf("the pending Tor feed is not named with its note: %+v", w)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sm.ConfigWarnings(c.in)
			if !slices.Equal(codes(got), c.want) {
				t.Fatalf("warnings %v, want %v", codes(got), c.want)
			}
			for _, w := range got {
				if w.Message == "" || (len(w.Variables) == 0 && w.Setting == "") {
					t.Errorf("warning %s does not say what is wrong and where to fix it: %+v", w.Code, w)
				}
			}
		})
	}
}

func TestManagerGeoStatusAndWarnings(t *testing.T) {
	t.Run("no resolver", func(t *testing.T) {
		e := newEnv(t, storeKinds[0])
		st := e.m.GeoStatus()
		if len(st.Sources) != 0 || st.Has(sm.GeoCountry) || len(st.Missing()) != 8 {
			t.Fatalf("status without a resolver: %+v, missing %v", st, st.Missing())
		}
		if w := codes(e.m.ConfigWarnings(e.ctx)); !slices.Contains(w, sm.WarnNoCountryData) || !slices.Contains(w, sm.WarnTorNoData) {
			t.Fatalf("warnings without a resolver: %v", w)
		}
	})
	t.Run("resolver that cannot report", func(t *testing.T) {
		e := newEnv(t, storeKinds[0], func(c *sm.Config) { c.Geo = plainGeo{} })
		if st := e.m.GeoStatus(); len(st.Sources) != 0 || st.Has(sm.GeoCountry) {
			t.Fatalf("status of a plain resolver: %+v", st)
		}
	})
	t.Run("reporting resolver, warnings follow settings", func(t *testing.T) {
		geo := statusGeo{sm.NewGeoStatus([]sm.GeoSource{source("asn", 5, sm.GeoASN)}, true)}
		e := newEnv(t, storeKinds[0], func(c *sm.Config) { c.Geo = geo }, editionGate(license.EditionAdvanced))
		if st := e.m.GeoStatus(); len(st.Sources) != 1 || !st.Has(sm.GeoASN) || st.Has(sm.GeoCountry) {
			t.Fatalf("status: %+v", st)
		}
		actor := sm.Actor{Type: sm.ActorAdmin, ID: "a"}
		if _, err := e.m.UpdateSettings(sm.WithActor(e.ctx, actor), []byte(`{"allowedCountries":["DE"]}`)); err != nil {
			t.Fatal(err)
		}
		if w := codes(e.m.ConfigWarnings(e.ctx)); !slices.Contains(w, sm.WarnGeofenceNoCountry) {
			t.Fatalf("an allow list without country data gives no warning: %v", w)
		}
		if _, err := e.m.UpdateSettings(sm.WithActor(e.ctx, actor), []byte(`{"allowedCountries":[],"actions":{"tor":"allow"}}`)); err != nil {
			t.Fatal(err)
		}
		w := codes(e.m.ConfigWarnings(e.ctx))
		if slices.Contains(w, sm.WarnGeofenceNoCountry) || slices.Contains(w, sm.WarnTorNoData) {
			t.Fatalf("warnings stay after the settings stopped needing the data: %v", w)
		}
		e.m.NoteUntrustedForwardedFor(netip.MustParseAddr("10.1.2.3"))
		if n, peer := e.m.UntrustedForwardedFor(); n != 1 || peer != "10.1.2.3" {
			t.Fatalf("untrusted X-Forwarded-For: %d from %q", n, peer)
		}
		if w := codes(e.m.ConfigWarnings(e.ctx)); !slices.Contains(w, sm.WarnUntrustedProxy) {
			t.Fatalf("no warning for X-Forwarded-For from an untrusted peer: %v", w)
		}
	})
}

// lockedErr checks err is a 403 feature_locked naming feature and edition.
func lockedErr(t *testing.T, err error, feature string, edition license.Edition) {
	t.Helper()
	var e *sm.Error
	if !errors.As(err, &e) || e.Code != sm.EFORBIDDEN || e.Reason != sm.ReasonFeatureLocked ||
		e.Details["feature"] != feature || e.Details["edition"] != string(edition) {
		t.Fatalf("want 403 feature_locked %s/%s, got %#v", feature, edition, err)
	}
}

// TestLockedSettingsRefused: a setting the edition would ignore is refused
// with feature_locked naming the edition, and nothing is stored; turning a
// feature off, or leaving a stored value alone, is accepted.
func TestLockedSettingsRefused(t *testing.T) {
	actor := sm.Actor{Type: sm.ActorAdmin, ID: "a"}
	cases := []struct {
		patch   string
		feature string
		edition license.Edition
		premium bool // also locked on Premium
	}{
		{`{"allowedCountries":["DE"]}`, sm.FeatureGeofence, license.EditionAdvanced, true},
		{`{"blockedCountries":["RU"]}`, sm.FeatureGeofence, license.EditionAdvanced, true},
		{`{"actions":{"geofence":"alert"}}`, sm.FeatureGeofence, license.EditionAdvanced, true},
		{`{"actions":{"tor":"alert"}}`, sm.FeatureThreat, license.EditionAdvanced, true},
		{`{"actions":{"vpn":"block"}}`, sm.FeatureBlocking, license.EditionAdvanced, true},
		{`{"actions":{"datacenter":"alert"}}`, sm.FeatureThreat, license.EditionAdvanced, true},
		{`{"actions":{"lowScore":"block"}}`, sm.FeatureBlocking, license.EditionAdvanced, true},
		{`{"geoLookupFailure":"block"}`, sm.FeatureBlocking, license.EditionAdvanced, true},
		{`{"newSignInEmail":true}`, sm.FeatureAlerts, license.EditionAdvanced, true},
		{`{"scoreThreshold":60}`, sm.FeatureRisk, license.EditionPremium, false},
		{`{"weights":{"new_country":30}}`, sm.FeatureRisk, license.EditionPremium, false},
		{`{"impossibleTravelKmh":800}`, sm.FeatureRisk, license.EditionPremium, false},
		{`{"failedLoginsIp":50}`, sm.FeatureRisk, license.EditionPremium, false},
	}
	free := newEnv(t, storeKinds[0], editionGate(license.EditionFree))
	prem := newEnv(t, storeKinds[0], editionGate(license.EditionPremium))
	adv := newEnv(t, storeKinds[0], editionGate(license.EditionAdvanced))
	for _, c := range cases {
		t.Run(c.patch, func(t *testing.T) {
			_, err := free.m.UpdateSettings(sm.WithActor(free.ctx, actor), []byte(c.patch))
			lockedErr(t, err, c.feature, c.edition)
			if _, err := prem.m.UpdateSettings(sm.WithActor(prem.ctx, actor), []byte(c.patch)); c.premium {
				lockedErr(t, err, c.feature, c.edition)
			} else if err != nil {
				t.Fatalf("Premium refused %s: %v", c.patch, err)
			}
			if _, err := adv.m.UpdateSettings(sm.WithActor(adv.ctx, actor), []byte(c.patch)); err != nil {
				t.Fatalf("Advanced refused %s: %v", c.patch, err)
			}
		})
	}
	// Nothing of the refused patches was stored on Free.
	got, _ := free.m.Settings(free.ctx)
	want := sm.DefaultSettings()
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("Free stored a refused setting:\n%s\nwant\n%s", gj, wj)
	}
	// Free settings, unchanged locked defaults (Tor: block) and turning a
	// locked feature off are accepted.
	for _, p := range []string{`{"maxSessionsPerUser":3}`, `{"actions":{"tor":"block","vpn":"allow"},"failedLoginWindow":"10m"}`, `{"allowedCountries":[]}`} {
		if _, err := free.m.UpdateSettings(sm.WithActor(free.ctx, actor), []byte(p)); err != nil {
			t.Fatalf("Free refused %s: %v", p, err)
		}
	}
	// Two locked settings at once: both named in the fields.
	_, err := free.m.UpdateSettings(sm.WithActor(free.ctx, actor), []byte(`{"allowedCountries":["DE"],"scoreThreshold":70}`))
	var e *sm.Error
	if !errors.As(err, &e) || e.Fields["allowedCountries"] == "" || e.Fields["scoreThreshold"] == "" {
		t.Fatalf("both locked settings are not named: %#v", err)
	}
	// The gate for rules and other requests.
	lockedErr(t, free.m.RequireFeature(sm.FeatureCondition, "a custom condition"), sm.FeatureCondition, license.EditionAdvanced)
	if err := adv.m.RequireFeature(sm.FeatureCondition, "a custom condition"); err != nil {
		t.Fatal(err)
	}
}
