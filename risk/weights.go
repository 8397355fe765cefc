package risk

import sm "github.com/magic-sessionmanager/sessionmanager"

// DefaultWeights is the weight each score signal takes off 100 unless
// Settings.Weights overrides it. docs/RISK.md explains each value.
//
// Together with the default ScoreThreshold of 40 they are tuned so that one
// ordinary signal never reaches "low score" on its own, while Tor or a known
// threat plus any other signal does, and impossible travel into a new
// country does.
var DefaultWeights = map[string]int{
	sm.ReasonTor:              60,
	sm.ReasonKnownThreat:      60,
	sm.ReasonImpossibleTravel: 50,
	sm.ReasonProxy:            40,
	sm.ReasonVPN:              30,
	sm.ReasonNewCountry:       20,
	sm.ReasonFailedLogins:     20,
	sm.ReasonDatacenter:       20,
	sm.ReasonNewDevice:        10,
}

// SignalCodes lists the score signals in their fixed order, the tie-break
// when two reasons weigh the same.
var SignalCodes = []string{
	sm.ReasonTor,
	sm.ReasonKnownThreat,
	sm.ReasonImpossibleTravel,
	sm.ReasonProxy,
	sm.ReasonVPN,
	sm.ReasonNewCountry,
	sm.ReasonFailedLogins,
	sm.ReasonDatacenter,
	sm.ReasonNewDevice,
}

// maxWeight is the largest weight a setting may give: one signal can take
// the whole score, no more.
const maxWeight = 100

// weight returns the weight of code under settings: the override when one
// is set, else the default. A negative override (refused by
// NormalizeSettings) counts as zero so a bad document never raises a score.
func weight(s *sm.Settings, code string) int {
	w, ok := s.Weights[code]
	if !ok {
		w = DefaultWeights[code]
	}
	return min(max(w, 0), maxWeight)
}
