package risk

import sm "github.com/magic-sessionmanager/sessionmanager"

// BlockPrecedence is the order in which conditions name the BlockReason
// when several block at once: the most fundamental refusal first, so the
// reason shown does not depend on map order or on which flag the geo
// database set first.
var BlockPrecedence = []string{
	sm.ReasonGeoLookupFailed,
	sm.ReasonGeofence,
	sm.ReasonTor,
	sm.ReasonKnownThreat,
	sm.ReasonProxy,
	sm.ReasonVPN,
	sm.ReasonDatacenter,
	sm.ReasonNewCountry,
	sm.ReasonNewDevice,
	sm.ReasonLowScore,
}

// applyPolicy evaluates every policy condition on the scored assessment
// and sets Action, Triggered, BlockReason and ChallengeReason. Conditions
// are visited in BlockPrecedence order, so the first that blocks is the
// BlockReason and the first that challenges the ChallengeReason. The
// strongest action wins: block > challenge > alert > allow.
// A fired condition whose action is allow is still listed in Triggered:
// alert rules and the dashboard may want to see it.
func applyPolicy(out *sm.Assessment, s *sm.Settings, a *sm.LoginAttempt, local, lookupFailed bool) {
	out.Action = sm.ActionAllow
	t := a.Geo.Threat
	fenced := false
	if !lookupFailed {
		fenced, _ = Fenced(s, a.Geo.Location.CountryCode, local)
	}
	geoFailure := sm.ActionAllow
	if failsClosed(s) {
		geoFailure = sm.ActionBlock
	}
	fire := [...]struct {
		fired  bool
		code   string
		action sm.Action
	}{
		{lookupFailed && !local, sm.ReasonGeoLookupFailed, geoFailure},
		{fenced, sm.ReasonGeofence, actionOr(s.Actions.Geofence, defaults.Actions.Geofence)},
		{t.Tor, sm.ReasonTor, actionOr(s.Actions.Tor, defaults.Actions.Tor)},
		{t.KnownThreat, sm.ReasonKnownThreat, actionOr(s.Actions.Threat, defaults.Actions.Threat)},
		{t.Proxy, sm.ReasonProxy, actionOr(s.Actions.Proxy, defaults.Actions.Proxy)},
		{t.VPN, sm.ReasonVPN, actionOr(s.Actions.VPN, defaults.Actions.VPN)},
		{t.Datacenter, sm.ReasonDatacenter, actionOr(s.Actions.Datacenter, defaults.Actions.Datacenter)},
		// new_country and new_device are conditions of their own only when
		// an action other than allow is set: with allow they stay score
		// signals and alert triggers, as before.
		{s.Actions.NewCountry.Strength() > 0 && hasSignal(out, sm.ReasonNewCountry), sm.ReasonNewCountry, s.Actions.NewCountry},
		{s.Actions.NewDevice.Strength() > 0 && hasSignal(out, sm.ReasonNewDevice), sm.ReasonNewDevice, s.Actions.NewDevice},
		{out.Score < s.ScoreThreshold, sm.ReasonLowScore, actionOr(s.Actions.LowScore, defaults.Actions.LowScore)},
	}
	for _, f := range fire {
		if !f.fired {
			continue
		}
		if out.Triggered == nil {
			out.Triggered = make(map[string]sm.Action, 2)
		}
		out.Triggered[f.code] = f.action
		if f.action.Strength() > out.Action.Strength() {
			out.Action = f.action
		}
		if f.action == sm.ActionBlock && out.BlockReason == "" {
			out.BlockReason = f.code
		}
		if f.action == sm.ActionChallenge && out.ChallengeReason == "" {
			out.ChallengeReason = f.code
		}
	}
}

// actionOr returns a, or def when a is not a known action: an unvalidated
// document falls back to the documented default rather than to "allow".
func actionOr(a, def sm.Action) sm.Action {
	if a.Valid() {
		return a
	}
	return def
}

// hasSignal reports whether the score signal fired.
func hasSignal(out *sm.Assessment, code string) bool {
	for _, r := range out.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}
