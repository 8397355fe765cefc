package sessionmanager

import (
	"fmt"
	"slices"
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
	// action is set for a session action: a change to a weaker action is
	// accepted unless it needs a feature the old one did not (turning
	// session protection down is never refused, action by action).
	action func(*Settings) Action
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

// actionLock is the lock of a setting that is an action: needs(a) are
// the features action a needs.
func actionLock(path string, get func(*Settings) Action, needs func(Action) []string) settingLock {
	return settingLock{path: path, value: func(s *Settings) any { return get(s) },
		needs: func(s *Settings) []string { return needs(get(s)) }}
}

// policyAction is the lock of one login policy action (actions.<name>):
// base are the features any action other than allow needs.
func policyAction(path string, get func(*Actions) Action, base ...string) settingLock {
	return actionLock(path, func(s *Settings) Action { return get(&s.Actions) },
		func(a Action) []string { return actionNeeds(a, base...) })
}

// threatAction is the lock of one threat policy (VPN, Tor...).
func threatAction(path string, get func(*Actions) Action) settingLock {
	return policyAction(path, get, FeatureThreat, FeatureRisk, FeatureGeo)
}

// sessionActionNeeds are the features session action a needs: session
// protection (named first), and challenges for challenge.
func sessionActionNeeds(a Action) []string {
	switch a {
	case ActionAllow, "":
		return nil
	case ActionChallenge:
		return []string{FeatureProtect, FeatureRisk, FeatureGeo, FeatureChallenge}
	}
	return []string{FeatureProtect, FeatureRisk, FeatureGeo}
}

// sessionActionLocks lock each session action on its own
// (sessionActions.<key>): one left on must not keep another from being
// turned down.
func sessionActionLocks() []settingLock {
	locks := make([]settingLock, len(sessionActionTable))
	for i, f := range sessionActionTable {
		get := func(s *Settings) Action { return *f.get(&s.SessionActions) }
		locks[i] = actionLock("sessionActions."+f.key, get, sessionActionNeeds)
		locks[i].action = get
	}
	return locks
}

// settingLocks lists every setting the licence can make a no-op, with the
// features its value needs (headline feature first). FailedLoginWindow and
// MaxSessionsPerUser are Free (login throttling, session cap).
var settingLocks = append([]settingLock{
	{path: "allowedCountries", value: func(s *Settings) any { return s.AllowedCountries }, needs: func(s *Settings) []string {
		if len(s.AllowedCountries) == 0 {
			return nil
		}
		return []string{FeatureGeofence, FeatureRisk, FeatureGeo}
	}},
	{path: "blockedCountries", value: func(s *Settings) any { return s.BlockedCountries }, needs: func(s *Settings) []string {
		if len(s.BlockedCountries) == 0 {
			return nil
		}
		return []string{FeatureGeofence, FeatureRisk, FeatureGeo}
	}},
	policyAction("actions.geofence", func(a *Actions) Action { return a.Geofence }, FeatureGeofence, FeatureRisk, FeatureGeo),
	threatAction("actions.tor", func(a *Actions) Action { return a.Tor }),
	threatAction("actions.vpn", func(a *Actions) Action { return a.VPN }),
	threatAction("actions.proxy", func(a *Actions) Action { return a.Proxy }),
	threatAction("actions.datacenter", func(a *Actions) Action { return a.Datacenter }),
	threatAction("actions.threat", func(a *Actions) Action { return a.Threat }),
	policyAction("actions.lowScore", func(a *Actions) Action { return a.LowScore }, FeatureRisk),
	policyAction("actions.newCountry", func(a *Actions) Action { return a.NewCountry }, FeatureRisk, FeatureGeo),
	policyAction("actions.newDevice", func(a *Actions) Action { return a.NewDevice }, FeatureRisk),
	{path: "geoLookupFailure", value: func(s *Settings) any { return s.GeoLookupFailure }, needs: func(s *Settings) []string {
		if !strings.EqualFold(s.GeoLookupFailure, "block") {
			return nil
		}
		return []string{FeatureBlocking, FeatureRisk, FeatureGeo}
	}},
	{path: "scoreThreshold", value: func(s *Settings) any { return s.ScoreThreshold }, needs: always(FeatureRisk)},
	{path: "weights", value: func(s *Settings) any { return s.Weights }, needs: always(FeatureRisk)},
	{path: "impossibleTravelKmh", value: func(s *Settings) any { return s.ImpossibleTravelKMH }, needs: always(FeatureRisk, FeatureGeo)},
	{path: "travelMinDistanceKm", value: func(s *Settings) any { return s.TravelMinDistanceKM }, needs: always(FeatureRisk, FeatureGeo)},
	{path: "failedLoginsAccount", value: func(s *Settings) any { return s.FailedLoginsAccount }, needs: always(FeatureRisk)},
	{path: "failedLoginsIp", value: func(s *Settings) any { return s.FailedLoginsIP }, needs: always(FeatureRisk)},
	{path: "refreshAnomalyPerMinute", value: func(s *Settings) any { return s.RefreshAnomalyPerMinute }, needs: func(s *Settings) []string {
		if s.RefreshAnomalyPerMinute == 0 {
			return nil // off: always accepted
		}
		return []string{FeatureProtect}
	}},
	// The user-facing new sign-in email is sent by the alert engine.
	{path: "newSignInEmail", value: func(s *Settings) any { return s.NewSignInEmail }, needs: func(s *Settings) []string {
		if !s.NewSignInEmail {
			return nil
		}
		return []string{FeatureAlerts}
	}},
}, sessionActionLocks()...)

// turnedDown reports whether an action changed from cur to the weaker
// next, which needs no feature (that allows refuses) that cur did not:
// lowering a stored policy is accepted even when the licence locks it.
func turnedDown(cur, next Action, curNeeds, nextNeeds []string, allows func(string) bool) bool {
	if next.Strength() >= cur.Strength() {
		return false
	}
	for _, f := range nextNeeds {
		if !allows(f) && !slices.Contains(curNeeds, f) {
			return false
		}
	}
	return true
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
// feature off ("allow", an empty list, 0) or an action down (terminate to
// alert) is always accepted. Every refused
// setting is named in Fields; Details name the first.
func (m *Manager) checkLockedSettings(cur, next *Settings) error {
	var first *Error
	fields := map[string]string{}
	for _, l := range settingLocks {
		if fmt.Sprint(l.value(cur)) == fmt.Sprint(l.value(next)) {
			continue
		}
		f := m.missingFeature(l.needs(next))
		if f == "" || (l.action != nil && turnedDown(l.action(cur), l.action(next), l.needs(cur), l.needs(next), m.allows)) {
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
