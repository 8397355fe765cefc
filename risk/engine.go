package risk

import (
	"slices"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Engine scores logins and applies the policy. The zero value is ready to
// use; it holds no state, so one Engine serves every goroutine.
type Engine struct{}

var _ sm.RiskEngine = Engine{}

// New returns an Engine.
func New() Engine { return Engine{} }

// defaults stands in for a nil *Settings. It is only ever read.
var defaults = sm.DefaultSettings()

// numSignals is the number of score signals (len(SignalCodes)).
const numSignals = 9

// Assess scores the login attempt a of a user with history h and applies
// the policy of settings (nil means sm.DefaultSettings()). It is pure and
// never panics on any input.
func (Engine) Assess(settings *sm.Settings, a sm.LoginAttempt, h sm.LoginHistory) sm.Assessment {
	s := settings
	if s == nil {
		s = defaults
	}
	lookupFailed := a.GeoErr != nil
	local := attemptIsLocal(&a)
	if lookupFailed || local {
		// A failed lookup yields no geo signals whatever partial answer came
		// with it; a local address was never looked up.
		a.Geo = sm.GeoResult{Location: sm.Location{Local: local}}
	}

	var c collector
	c.settings = s
	c.threatSignals(&a.Geo)
	c.impossibleTravel(&a, &h)
	c.newCountry(&a.Geo.Location, &h)
	c.failedLogins(&h)
	c.newDevice(&a.Device, &h)

	reasons := make([]sm.RiskReason, c.n)
	copy(reasons, c.reasons[:c.n])
	// Stable: equal weights keep the fixed signal order of collection.
	slices.SortStableFunc(reasons, func(x, y sm.RiskReason) int { return y.Weight - x.Weight })

	score := max(0, 100-c.total)
	out := sm.Assessment{Score: score, Reasons: reasons}
	applyPolicy(&out, s, &a, local, lookupFailed)
	return out
}

// collector gathers the signals of one assessment without allocating more
// than the final slice and the detail strings.
type collector struct {
	settings *sm.Settings
	reasons  [numSignals]sm.RiskReason
	n        int
	total    int
}

// add records a signal with its configured weight.
func (c *collector) add(code, detail string) {
	if c.n == len(c.reasons) { // each signal fires at most once; defensive
		return
	}
	w := weight(c.settings, code)
	c.reasons[c.n] = sm.RiskReason{Code: code, Weight: w, Detail: detail}
	c.n++
	c.total += w
}
