package license_test

import (
	"context"
	"slices"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestGatesByEdition is the product table: feature x edition -> allowed.
func TestGatesByEdition(t *testing.T) {
	type row struct {
		feature                  string
		none, free, prem, advanc bool
	}
	table := []row{
		{license.FeatureSessions, true, true, true, true},
		{license.FeatureForceLogout, true, true, true, true},
		{license.FeatureDashboard, true, true, true, true},
		{license.FeatureEncryption, true, true, true, true},
		{sm.FeatureGeo, false, false, true, true},
		{sm.FeatureRisk, false, false, true, true},
		{sm.FeatureThreat, false, false, false, true},
		{sm.FeatureGeofence, false, false, false, true},
		{sm.FeatureBlocking, false, false, false, true},
		{sm.FeatureAlerts, false, false, false, true},
		{sm.FeatureCondition, false, false, false, true},
		{sm.FeatureProtect, false, false, false, true},
		{"no_such_feature", false, false, false, false},
		{"", false, false, false, false},
	}
	v, c := newVendor(), newClock()
	states := map[string]*license.State{}
	states["none"], _ = newState(t, v, c)
	for _, ed := range []license.Edition{license.EditionFree, license.EditionPremium, license.EditionAdvanced} {
		s, _ := newState(t, v, c)
		info, err := s.Set(context.Background(), v.issue(t, ed, t0, t0.AddDate(1, 0, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if license.Edition(info.Edition) != ed || info.Status != license.StatusActive {
			t.Fatalf("%s: info %+v", ed, info)
		}
		states[string(ed)] = s
	}
	for _, r := range table {
		for ed, want := range map[string]bool{"none": r.none, "free": r.free, "premium": r.prem, "advanced": r.advanc} {
			if got := states[ed].Allows(r.feature); got != want {
				t.Errorf("%s allows %q = %v, want %v", ed, r.feature, got, want)
			}
			if got := slices.Contains(states[ed].Info().Features, r.feature); got != want {
				t.Errorf("%s Info.Features has %q = %v, want %v", ed, r.feature, got, want)
			}
		}
	}
}

// TestOtherEditionKey: a Premium key never opens Advanced features, even
// when the admin "upgrades" by editing settings.
func TestOtherEditionKey(t *testing.T) {
	v, c := newVendor(), newClock()
	s, _ := newState(t, v, c)
	if _, err := s.Set(context.Background(), v.issue(t, license.EditionPremium, t0, t0.AddDate(1, 0, 0))); err != nil {
		t.Fatal(err)
	}
	if !s.Allows(sm.FeatureGeo) || s.Allows(sm.FeatureThreat) || s.Allows(sm.FeatureBlocking) {
		t.Fatal("premium key gates wrong")
	}
	if got := license.Edition(s.Info().Edition); got != license.EditionPremium {
		t.Fatalf("edition %q", got)
	}
}

// TestUnlocksNamesLeastEdition: the edition a feature_locked refusal names
// is the least edition whose features include it.
func TestUnlocksNamesLeastEdition(t *testing.T) {
	features := []string{license.FeatureSessions, sm.FeatureGeo, sm.FeatureRisk, sm.FeatureThreat, sm.FeatureGeofence,
		sm.FeatureBlocking, sm.FeatureAlerts, sm.FeatureCondition}
	for _, f := range features {
		var want license.Edition
		for _, ed := range []license.Edition{license.EditionFree, license.EditionPremium, license.EditionAdvanced} {
			if slices.Contains(ed.Features(), f) {
				want = ed
				break
			}
		}
		if got := license.Unlocks(f); got != want {
			t.Errorf("Unlocks(%q) = %q, want %q", f, got, want)
		}
	}
	if got := license.Unlocks("no_such_feature"); got != "" {
		t.Errorf("Unlocks of an unknown feature = %q, want none", got)
	}
}
