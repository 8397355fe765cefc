package sessionmanager

import (
	"fmt"
	"strings"
)

// ReasonFeatureLocked is the reason of a 403 refusing a setting, rule or
// fence that the licence in force locks: it would be stored and then
// silently ignored, so it is refused instead, naming the edition that
// unlocks it.
const ReasonFeatureLocked = "feature_locked"

// featureTitles are the features as an admin reads them.
var featureTitles = map[string]string{
	FeatureGeo:       "geolocation",
	FeatureRisk:      "risk scoring",
	FeatureThreat:    "VPN / proxy / Tor detection",
	FeatureGeofence:  "geo-fencing",
	FeatureBlocking:  "auto-blocking",
	FeatureAlerts:    "security alerts",
	FeatureCondition: "custom alert conditions",
	FeatureChallenge: "step-up authentication (challenges)",
	FeatureProtect:   "session protection",
}

// FeatureTitle is the feature's name as an admin reads it ("geo-fencing").
func FeatureTitle(feature string) string {
	if t, ok := featureTitles[feature]; ok {
		return t
	}
	return feature
}

// FeatureLock reports whether the licence in force locks feature and, when
// it does, the edition that unlocks it ("" when Config.Unlocks is nil).
func (m *Manager) FeatureLock(feature string) (edition string, locked bool) {
	if m.allows(feature) {
		return "", false
	}
	if m.cfg.Unlocks != nil {
		edition = m.cfg.Unlocks(feature)
	}
	return edition, true
}

// RequireFeature is the one gate for what an admin asks for: nil when the
// licence allows feature, else a 403 feature_locked error naming the
// feature and the edition that unlocks it. what says what was asked
// ("an alert rule", "allowedCountries").
func (m *Manager) RequireFeature(feature, what string) error {
	edition, locked := m.FeatureLock(feature)
	if !locked {
		return nil
	}
	return featureLockedError(feature, edition, what)
}

func featureLockedError(feature, edition, what string) *Error {
	msg := fmt.Sprintf("%s needs %s, which this edition does not include", what, FeatureTitle(feature))
	if edition != "" {
		msg = fmt.Sprintf("%s needs %s, which the %s edition unlocks", what, FeatureTitle(feature), editionTitle(edition))
	}
	d := map[string]string{"feature": feature}
	if edition != "" {
		d["edition"] = edition
	}
	return &Error{Code: EFORBIDDEN, Message: msg, Reason: ReasonFeatureLocked, Details: d}
}

// editionTitle is "Advanced" for "advanced".
func editionTitle(e string) string {
	if e == "" {
		return e
	}
	return strings.ToUpper(e[:1]) + e[1:]
}

// settingLock is one setting a licence can lock: the features its value
// needs to have any effect (nil: the value is "off", always accepted).
type settingLock struct {
	path  string
	value func(*Settings) any
	needs func(*Settings) []string
}

// actionNeeds: "allow" needs nothing; "alert" needs base; "block" also
// needs auto-blocking (named first: it is the headline of the refusal).
func actionNeeds(a Action, base ...string) []string {
	switch a {
	case ActionAllow, "":
		return nil
	case ActionBlock:
		return append([]string{FeatureBlocking}, base...)
	case ActionChallenge:
		return append([]string{FeatureChallenge}, base...)
	}
	return base
}

// always is the needs of a setting whose every value needs features.
func always(features ...string) func(*Settings) []string {
	return func(*Settings) []string { return features }
}

// threatAction is the lock of one threat policy (VPN, Tor...).
func threatAction(path string, get func(*Actions) Action) settingLock {
	return settingLock{path, func(s *Settings) any { return get(&s.Actions) },
		func(s *Settings) []string {
			return actionNeeds(get(&s.Actions), FeatureThreat, FeatureRisk, FeatureGeo)
		}}
}

// settingLocks lists every setting the licence can make a no-op, with the
// features its value needs (headline feature first). FailedLoginWindow and
// MaxSessionsPerUser are Free (login throttling, session cap).
var settingLocks = []settingLock{
	{"allowedCountries", func(s *Settings) any { return s.AllowedCountries }, func(s *Settings) []string {
		if len(s.AllowedCountries) == 0 {
			return nil
		}
		return []string{FeatureGeofence, FeatureRisk, FeatureGeo}
	}},
	{"blockedCountries", func(s *Settings) any { return s.BlockedCountries }, func(s *Settings) []string {
		if len(s.BlockedCountries) == 0 {
			return nil
		}
		return []string{FeatureGeofence, FeatureRisk, FeatureGeo}
	}},
	{"actions.geofence", func(s *Settings) any { return s.Actions.Geofence }, func(s *Settings) []string {
		return actionNeeds(s.Actions.Geofence, FeatureGeofence, FeatureRisk, FeatureGeo)
	}},
	threatAction("actions.tor", func(a *Actions) Action { return a.Tor }),
	threatAction("actions.vpn", func(a *Actions) Action { return a.VPN }),
	threatAction("actions.proxy", func(a *Actions) Action { return a.Proxy }),
	threatAction("actions.datacenter", func(a *Actions) Action { return a.Datacenter }),
	threatAction("actions.threat", func(a *Actions) Action { return a.Threat }),
	{"actions.lowScore", func(s *Settings) any { return s.Actions.LowScore }, func(s *Settings) []string {
		return actionNeeds(s.Actions.LowScore, FeatureRisk)
	}},
	{"actions.newCountry", func(s *Settings) any { return s.Actions.NewCountry }, func(s *Settings) []string {
		return actionNeeds(s.Actions.NewCountry, FeatureRisk, FeatureGeo)
	}},
	{"actions.newDevice", func(s *Settings) any { return s.Actions.NewDevice }, func(s *Settings) []string {
		return actionNeeds(s.Actions.NewDevice, FeatureRisk)
	}},
	{"geoLookupFailure", func(s *Settings) any { return s.GeoLookupFailure }, func(s *Settings) []string {
		if !strings.EqualFold(s.GeoLookupFailure, "block") {
			return nil
		}
		return []string{FeatureBlocking, FeatureRisk, FeatureGeo}
	}},
	{"scoreThreshold", func(s *Settings) any { return s.ScoreThreshold }, always(FeatureRisk)},
	{"weights", func(s *Settings) any { return s.Weights }, always(FeatureRisk)},
	{"impossibleTravelKmh", func(s *Settings) any { return s.ImpossibleTravelKMH }, always(FeatureRisk, FeatureGeo)},
	{"travelMinDistanceKm", func(s *Settings) any { return s.TravelMinDistanceKM }, always(FeatureRisk, FeatureGeo)},
	{"failedLoginsAccount", func(s *Settings) any { return s.FailedLoginsAccount }, always(FeatureRisk)},
	{"failedLoginsIp", func(s *Settings) any { return s.FailedLoginsIP }, always(FeatureRisk)},
	{"sessionActions", func(s *Settings) any { return s.SessionActions }, func(s *Settings) []string {
		need := []string{FeatureProtect, FeatureRisk, FeatureGeo}
		if !sessionActionsOn(&s.SessionActions) {
			return nil // off: always accepted
		}
		for _, f := range sessionActionFields(&s.SessionActions) {
			if *f.action == ActionChallenge {
				return append(need, FeatureChallenge)
			}
		}
		return need
	}},
	{"refreshAnomalyPerMinute", func(s *Settings) any { return s.RefreshAnomalyPerMinute }, always(FeatureProtect)},
	// The user-facing new sign-in email is sent by the alert engine.
	{"newSignInEmail", func(s *Settings) any { return s.NewSignInEmail }, func(s *Settings) []string {
		if !s.NewSignInEmail {
			return nil
		}
		return []string{FeatureAlerts}
	}},
}

// missingFeature is the first of features the licence does not allow.
func (m *Manager) missingFeature(features []string) string {
	for _, f := range features {
		if !m.allows(f) {
			return f
		}
	}
	return ""
}

// checkLockedSettings refuses a settings change the licence would ignore:
// a setting whose value changes (cur -> next) to one that needs a feature
// the licence does not allow. Values already stored are left alone (an
// expired licence must not make every later save fail), and turning a
// feature off ("allow", an empty list) is always accepted. Every refused
// setting is named in Fields; Details name the first.
func (m *Manager) checkLockedSettings(cur, next *Settings) error {
	var first *Error
	fields := map[string]string{}
	for _, l := range settingLocks {
		if fmt.Sprint(l.value(cur)) == fmt.Sprint(l.value(next)) {
			continue
		}
		f := m.missingFeature(l.needs(next))
		if f == "" {
			continue
		}
		edition, _ := m.FeatureLock(f)
		e := featureLockedError(f, edition, l.path)
		fields[l.path] = e.Message
		if first == nil {
			first = e
		}
	}
	if first == nil {
		return nil
	}
	first.Fields = fields
	if len(fields) > 1 {
		first.Message = fmt.Sprintf("%s (and %d more settings: see the fields)", first.Message, len(fields)-1)
	}
	return first
}
