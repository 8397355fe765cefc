package license

import (
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Edition is a product edition: free, premium or advanced.
type Edition string

// The editions, from least to most.
const (
	EditionFree     Edition = "free"
	EditionPremium  Edition = "premium"
	EditionAdvanced Edition = "advanced"
)

// Free features: never gated, listed so Info can name them.
const (
	FeatureSessions    = "sessions"
	FeatureForceLogout = "force_logout"
	FeatureDashboard   = "dashboard"
	FeatureEncryption  = "token_encryption"
)

// featureBit is one paid feature in a mask.
type featureBit uint32

// paidFeatures is every gated feature in display order, with its bit.
var paidFeatures = []struct {
	name string
	bit  featureBit
}{
	{sm.FeatureGeo, 1 << 0},
	{sm.FeatureRisk, 1 << 1},
	{sm.FeatureThreat, 1 << 2},
	{sm.FeatureGeofence, 1 << 3},
	{sm.FeatureBlocking, 1 << 4},
	{sm.FeatureAlerts, 1 << 5},
	{sm.FeatureCondition, 1 << 6},
	{sm.FeatureChallenge, 1 << 7},
	{sm.FeatureProtect, 1 << 8},
}

// freeFeatures always work, with or without a licence.
var freeFeatures = []string{FeatureSessions, FeatureForceLogout, FeatureDashboard, FeatureEncryption}

const (
	premiumMask  featureBit = 1<<0 | 1<<1
	advancedMask featureBit = premiumMask | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8
)

// lookupFeature answers the bit of a paid feature, or free=true for a Free
// one. An unknown name is neither: it is denied, so a typo never unlocks.
func lookupFeature(name string) (bit featureBit, free bool) {
	for _, f := range paidFeatures {
		if f.name == name {
			return f.bit, false
		}
	}
	for _, f := range freeFeatures {
		if f == name {
			return 0, true
		}
	}
	return 0, false
}

// ParseEdition reads an edition name, case-insensitively.
func ParseEdition(s string) (Edition, error) {
	e := Edition(strings.ToLower(strings.TrimSpace(s)))
	if !e.Valid() {
		return "", sm.Errorf(sm.EINVALID, "edition %q is not one of free, premium, advanced", s)
	}
	return e, nil
}

// Valid reports whether e is a known edition.
func (e Edition) Valid() bool {
	return e == EditionFree || e == EditionPremium || e == EditionAdvanced
}

// Title is the edition's display name ("Advanced").
func (e Edition) Title() string {
	switch e {
	case EditionPremium:
		return "Premium"
	case EditionAdvanced:
		return "Advanced"
	}
	return "Free"
}

// mask is the set of paid features the edition unlocks.
func (e Edition) mask() featureBit {
	switch e {
	case EditionPremium:
		return premiumMask
	case EditionAdvanced:
		return advancedMask
	}
	return 0
}

// Features lists every feature the edition unlocks, Free ones first.
func (e Edition) Features() []string {
	return featureNames(e.mask())
}

// featureNames lists the Free features and the paid ones in mask.
func featureNames(mask featureBit) []string {
	out := append([]string{}, freeFeatures...)
	for _, f := range paidFeatures {
		if mask&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

// Unlocks names the least edition that unlocks feature: Free for a Free
// feature, "" for an unknown one (sessionmanager.Config.Unlocks).
func Unlocks(feature string) Edition {
	bit, free := lookupFeature(feature)
	switch {
	case free:
		return EditionFree
	case bit == 0:
		return ""
	case premiumMask&bit != 0:
		return EditionPremium
	}
	return EditionAdvanced
}
