package risk

import (
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// NormalizeSettings validates s and normalises it in place: the root
// package's checks (sm.NormalizeSettings) and the weights (CheckSettings).
// It returns every invalid field by its JSON path ("allowedCountries[2]",
// "actions.tor", "weights.foo") with why; nil means valid.
func NormalizeSettings(s *sm.Settings) map[string]string {
	errs := fieldErrors(sm.NormalizeSettings(s))
	if s != nil {
		checkWeights(&errs, s)
	}
	return errs
}

// CheckSettings checks what only the risk engine knows of the settings:
// the weight overrides (sm.SettingsChecker).
func (Engine) CheckSettings(s *sm.Settings) map[string]string {
	var errs fieldErrors
	checkWeights(&errs, s)
	return errs
}

// fieldErrors collects errors by JSON path, allocated on the first one.
type fieldErrors map[string]string

func (e *fieldErrors) add(field, msg string) {
	if *e == nil {
		*e = make(fieldErrors)
	}
	(*e)[field] = msg
}

// checkWeights checks each weight override: a known signal code and a
// weight from 0 to 100.
func checkWeights(errs *fieldErrors, s *sm.Settings) {
	if s.Weights == nil {
		s.Weights = map[string]int{}
	}
	for code, w := range s.Weights {
		field := "weights." + code
		if _, ok := DefaultWeights[code]; !ok {
			errs.add(field, "unknown reason code; one of "+strings.Join(SignalCodes, ", "))
			continue
		}
		if w < 0 || w > maxWeight {
			errs.add(field, "must be between 0 and 100")
		}
	}
}
