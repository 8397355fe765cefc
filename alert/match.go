package alert

import (
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// hasReason reports whether the assessment lists the reason code.
func hasReason(a *sm.Assessment, code string) bool {
	if a == nil {
		return false
	}
	for _, r := range a.Reasons {
		if r.Code == code {
			return true
		}
	}
	_, ok := a.Triggered[code]
	return ok
}

// triggerMatches reports whether one built-in trigger matches the input.
func triggerMatches(trigger string, in *sm.AlertInput, lowScoreBelow *int) bool {
	a := in.Assessment
	eventType := ""
	if in.Event != nil {
		eventType = in.Event.Type
	}
	// A report is about a session an earlier event already alerted on:
	// only user_reported (and catch-all rules) fire again for it.
	if eventType == sm.EventSessionReported {
		return trigger == TriggerUserReported
	}
	// A move of a live session: the login-time triggers (vpn, new_country)
	// judged its login; only session_anomaly fires on it.
	if eventType == sm.EventSessionAnomaly {
		return trigger == TriggerSessionAnomaly
	}
	// A challenge's events carry the attempt's assessment for the rules'
	// conditions, but only the challenge triggers fire on them: the risk
	// triggers fire once, on the login's outcome (blocked or succeeded).
	if challengeEvent(eventType) {
		return eventType == challengeTriggerEvent[trigger]
	}
	switch trigger {
	case TriggerNewCountry:
		return hasReason(a, sm.ReasonNewCountry)
	case TriggerNewDevice:
		return hasReason(a, sm.ReasonNewDevice)
	case TriggerImpossibleTravel:
		return hasReason(a, sm.ReasonImpossibleTravel)
	case TriggerVPN:
		return in.Threat.VPN || hasReason(a, sm.ReasonVPN)
	case TriggerProxy:
		return in.Threat.Proxy || hasReason(a, sm.ReasonProxy)
	case TriggerTor:
		return in.Threat.Tor || hasReason(a, sm.ReasonTor)
	case TriggerDatacenter:
		return in.Threat.Datacenter || hasReason(a, sm.ReasonDatacenter)
	case TriggerThreat:
		return in.Threat.KnownThreat || hasReason(a, sm.ReasonKnownThreat)
	case TriggerLowScore:
		if lowScoreBelow != nil {
			return a != nil && a.Score < *lowScoreBelow
		}
		return hasReason(a, sm.ReasonLowScore)
	case TriggerLoginBlocked:
		return eventType == sm.EventLoginBlocked
	case TriggerRefreshReuse:
		return eventType == sm.EventRefreshReuse
	case TriggerUserReported:
		return eventType == sm.EventSessionReported
	}
	return false
}

// matchedTriggers returns the rule's triggers that match, in rule order.
func matchedTriggers(r *storedRule, in *sm.AlertInput) []string {
	var out []string
	for _, t := range r.Triggers {
		if triggerMatches(t, in, r.LowScoreBelow) {
			out = append(out, t)
		}
	}
	return out
}

// challengeTriggerEvent maps each challenge trigger to its event.
var challengeTriggerEvent = map[string]string{
	TriggerLoginChallenged: sm.EventLoginChallenged,
	TriggerChallengePassed: sm.EventChallengePassed,
	TriggerChallengeFailed: sm.EventChallengeFailed,
}

// challengeEvent reports whether the event is one of a login challenge.
func challengeEvent(eventType string) bool {
	return eventType == sm.EventLoginChallenged || eventType == sm.EventChallengePassed || eventType == sm.EventChallengeFailed
}
