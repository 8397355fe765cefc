package license_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

func TestNoLicenceRunsAsFree(t *testing.T) {
	v, c := newVendor(), newClock()
	s, _ := newState(t, v, c, func(o *license.Options) { o.Store = openStore(t) })
	info, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != license.StatusNone || license.Edition(info.Edition) != license.EditionFree || s.Allows(sm.FeatureGeo) {
		t.Fatalf("info %+v", info)
	}
	if !strings.Contains(info.Notice, "geolocation shows the IP address only") {
		t.Fatalf("notice %q", info.Notice)
	}
}

func TestExpiredKey(t *testing.T) {
	v, c := newVendor(), newClock()
	expired := v.issue(t, license.EditionAdvanced, t0.AddDate(-1, 0, 0), t0.Add(-time.Hour))
	s, logs := newState(t, v, c, func(o *license.Options) { o.Key = expired })

	// Set refuses an expired key and changes nothing.
	if _, err := s.Set(context.Background(), expired); sm.ErrorCode(err) != sm.EINVALID || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Set(expired) = %v", err)
	}
	if s.Info().Status != license.StatusNone {
		t.Fatal("a refused key changed the state")
	}

	// From LICENSE_KEY it is shown as expired, with paid gates locked.
	info, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != license.StatusExpired || license.Edition(info.Edition) != license.EditionFree || license.Edition(info.Licensed) != license.EditionAdvanced || info.DaysLeft != 0 {
		t.Fatalf("info %+v", info)
	}
	for _, f := range []string{sm.FeatureGeo, sm.FeatureRisk, sm.FeatureThreat, sm.FeatureBlocking, sm.FeatureAlerts} {
		if s.Allows(f) {
			t.Errorf("expired licence allows %s", f)
		}
	}
	if !s.Allows(license.FeatureForceLogout) || !s.Allows(license.FeatureSessions) {
		t.Error("expired licence locked a Free feature")
	}
	for _, want := range []string{"expired on", "no data was deleted", "Free features keep working"} {
		if !strings.Contains(info.Notice, want) {
			t.Errorf("notice %q lacks %q", info.Notice, want)
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("no error logged for an expired licence:\n%s", logs)
	}
}

func TestTamperedKeyFromEnvRunsAsFree(t *testing.T) {
	v, c := newVendor(), newClock()
	good := v.issue(t, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0))
	forged := editPayload(t, good, func(p string) string { return strings.Replace(p, "Acme GmbH", "Evil GmbH", 1) })
	s, logs := newState(t, v, c, func(o *license.Options) { o.Key = forged })
	info, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != license.StatusInvalid || s.Allows(sm.FeatureGeo) || !strings.Contains(info.Notice, "signature") {
		t.Fatalf("info %+v", info)
	}
	if strings.Contains(logs.String(), forged) || strings.Contains(logs.String(), good[:40]) {
		t.Fatal("the key was logged")
	}
	// Set with a key signed by another vendor is refused with the field named.
	_, err = s.Set(context.Background(), newVendor().issue(t, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0)))
	var e *sm.Error
	if !errors.As(err, &e) || e.Fields["key"] == "" || !strings.Contains(e.Message, "another vendor key") {
		t.Fatalf("Set(other vendor) = %#v", err)
	}
}

// TestSetStoresAndLoadRestores: a key set through the admin API survives
// a restart (a new State on the same store) and is not undone by an older
// LICENSE_KEY.
func TestSetStoresAndLoadRestores(t *testing.T) {
	ctx := context.Background()
	v, c := newVendor(), newClock()
	st := openStore(t)
	oldEnv := v.issue(t, license.EditionPremium, t0.AddDate(0, -6, 0), t0.AddDate(0, 1, 0))
	s, _ := newState(t, v, c, func(o *license.Options) { o.Store, o.Key = st, oldEnv })
	if info, _ := s.Load(ctx); license.Edition(info.Edition) != license.EditionPremium {
		t.Fatalf("LICENSE_KEY not loaded: %+v", info)
	}
	renewed := v.issue(t, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0))
	if _, err := s.Set(ctx, "  "+renewed+"\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetSetting(ctx, license.SettingsKey)
	if err != nil || !strings.Contains(string(raw), renewed) {
		t.Fatalf("stored %q, %v", raw, err)
	}

	restarted, _ := newState(t, v, c, func(o *license.Options) { o.Store, o.Key = st, oldEnv })
	info, err := restarted.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if license.Edition(info.Edition) != license.EditionAdvanced || info.Source != "store" || !restarted.Allows(sm.FeatureThreat) {
		t.Fatalf("after restart: %+v", info)
	}

	// An invalid stored document does not hide a good LICENSE_KEY.
	if err := st.PutSetting(ctx, license.SettingsKey, []byte(`{"key":"MSM1.garbage"}`)); err != nil {
		t.Fatal(err)
	}
	info, _ = restarted.Load(ctx)
	if license.Edition(info.Edition) != license.EditionPremium || info.Source != "LICENSE_KEY" {
		t.Fatalf("with a bad stored key: %+v", info)
	}
}

// TestRejectedSetKeepsLicence: a bad key pasted in the dashboard does not
// take away the licence in force.
func TestRejectedSetKeepsLicence(t *testing.T) {
	ctx := context.Background()
	v, c := newVendor(), newClock()
	st := openStore(t)
	s, _ := newState(t, v, c, func(o *license.Options) { o.Store = st })
	good := v.issue(t, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0))
	if _, err := s.Set(ctx, good); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, "MSM1.nonsense"); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("Set(nonsense) = %v", err)
	}
	if !s.Allows(sm.FeatureAlerts) {
		t.Fatal("a rejected key locked the licence in force")
	}
	raw, _ := st.GetSetting(ctx, license.SettingsKey)
	if !strings.Contains(string(raw), good) {
		t.Fatal("a rejected key replaced the stored one")
	}
}

// TestExpiryAtRuntimeAndReactivation: with a fake clock the gate flips at
// the expiry instant, and a new key flips it back at once.
func TestExpiryAtRuntimeAndReactivation(t *testing.T) {
	ctx := context.Background()
	v, c := newVendor(), newClock()
	exp := t0.Add(30 * 24 * time.Hour)
	s, _ := newState(t, v, c, func(o *license.Options) { o.Store = openStore(t) })
	if _, err := s.Set(ctx, v.issue(t, license.EditionAdvanced, t0, exp)); err != nil {
		t.Fatal(err)
	}
	if info := s.Info(); info.DaysLeft != 30 || info.Warning {
		t.Fatalf("30 days out: %+v", info)
	}
	c.Set(exp.Add(-13 * 24 * time.Hour))
	if info := s.Info(); !info.Warning || info.DaysLeft != 13 || !strings.Contains(info.Notice, "renew") {
		t.Fatalf("13 days out: %+v", info)
	}
	c.Set(exp.Add(-time.Nanosecond))
	if !s.Allows(sm.FeatureBlocking) || s.Info().Status != license.StatusActive || s.Info().DaysLeft != 1 {
		t.Fatal("locked before the expiry instant")
	}
	c.Set(exp)
	if s.Allows(sm.FeatureBlocking) || s.Allows(sm.FeatureGeo) {
		t.Fatal("still unlocked at the expiry instant")
	}
	if info := s.Info(); info.Status != license.StatusExpired || license.Edition(info.Edition) != license.EditionFree {
		t.Fatalf("at expiry: %+v", info)
	}
	if !s.Allows(license.FeatureForceLogout) {
		t.Fatal("Free feature locked at expiry")
	}

	info, err := s.Set(ctx, v.issue(t, license.EditionAdvanced, exp, exp.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != license.StatusActive || !s.Allows(sm.FeatureBlocking) || !s.Allows(sm.FeatureGeo) {
		t.Fatalf("re-activation: %+v", info)
	}
}

func TestDemoUnlocksEverything(t *testing.T) {
	v, c := newVendor(), newClock()
	s, _ := newState(t, v, c, func(o *license.Options) { o.Demo = true })
	if _, err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{sm.FeatureGeo, sm.FeatureRisk, sm.FeatureThreat, sm.FeatureGeofence, sm.FeatureBlocking, sm.FeatureAlerts, sm.FeatureCondition} {
		if !s.Allows(f) {
			t.Errorf("demo locks %s", f)
		}
	}
	info := s.Info()
	if !info.Demo || info.Notice != license.DemoNotice || license.Edition(info.Edition) != license.EditionAdvanced {
		t.Fatalf("demo info %+v", info)
	}
	if !strings.Contains(info.Notice, "Demo: every feature unlocked on demo data") {
		t.Fatal("demo notice changed")
	}
}

func TestNewRejectsBadPublicKey(t *testing.T) {
	if _, err := license.New(license.Options{PublicKey: make([]byte, 7)}); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("New(short key) = %v", err)
	}
}
