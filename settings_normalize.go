package sessionmanager

import (
	"math"
	"strconv"
	"strings"
)

// GeoLookup failure policies (Settings.GeoLookupFailure).
const (
	GeoFailureAllow = "allow"
	GeoFailureBlock = "block"
)

// Challenge fallbacks (Settings.ChallengeFallback).
const (
	ChallengeFallbackBlock = "block"
	ChallengeFallbackAlert = "alert"
)

// SettingsChecker is a RiskEngine (or other part) that checks the settings
// it alone understands, by JSON path, after NormalizeSettings.
type SettingsChecker interface {
	CheckSettings(s *Settings) map[string]string
}

// NormalizeSettings validates s and normalises it in place, as far as
// the root package knows the settings (a RiskEngine that is a
// SettingsChecker checks its own, the weights): country codes
// are trimmed, upper-cased and de-duplicated (first occurrence kept),
// actions and geoLookupFailure are trimmed and lower-cased, nil lists and
// maps become empty. It returns every invalid field by its JSON path
// ("allowedCountries[2]", "actions.tor") with why; nil means
// valid. Indexes name the position in the list as given.
func NormalizeSettings(s *Settings) map[string]string {
	if s == nil {
		return map[string]string{"settings": "is required"}
	}
	var errs fieldErrors
	s.AllowedCountries, _ = normalizeCountries(&errs, "allowedCountries", s.AllowedCountries)
	var blockedAt []int
	s.BlockedCountries, blockedAt = normalizeCountries(&errs, "blockedCountries", s.BlockedCountries)
	for i, code := range s.BlockedCountries {
		if containsFold(s.AllowedCountries, code) {
			errs.add("blockedCountries["+strconv.Itoa(blockedAt[i])+"]", strconv.Quote(code)+" is also in allowedCountries")
		}
	}
	if s.ScoreThreshold < 0 || s.ScoreThreshold > 100 {
		errs.add("scoreThreshold", "must be between 0 and 100")
	}
	s.GeoLookupFailure = strings.ToLower(strings.TrimSpace(s.GeoLookupFailure))
	if s.GeoLookupFailure != GeoFailureAllow && s.GeoLookupFailure != GeoFailureBlock {
		errs.add("geoLookupFailure", "must be allow or block")
	}
	normalizeActions(&errs, &s.Actions)
	s.ChallengeFallback = strings.ToLower(strings.TrimSpace(s.ChallengeFallback))
	if s.ChallengeFallback == "" {
		s.ChallengeFallback = ChallengeFallbackBlock
	}
	if s.ChallengeFallback != ChallengeFallbackBlock && s.ChallengeFallback != ChallengeFallbackAlert {
		errs.add("challengeFallback", "must be block or alert")
	}
	if s.Weights == nil {
		s.Weights = map[string]int{}
	}
	if !(s.ImpossibleTravelKMH > 0) || math.IsInf(s.ImpossibleTravelKMH, 1) {
		errs.add("impossibleTravelKmh", "must be a number greater than 0")
	}
	if !(s.TravelMinDistanceKM >= 0) || math.IsInf(s.TravelMinDistanceKM, 1) {
		errs.add("travelMinDistanceKm", "must be a number of at least 0")
	}
	if s.FailedLoginsAccount < 0 {
		errs.add("failedLoginsAccount", "must not be negative (0 turns it off)")
	}
	if s.FailedLoginsIP < 0 {
		errs.add("failedLoginsIp", "must not be negative (0 turns it off)")
	}
	switch {
	case s.FailedLoginWindow < 0:
		errs.add("failedLoginWindow", "must not be negative")
	case s.FailedLoginWindow == 0 && (s.FailedLoginsAccount > 0 || s.FailedLoginsIP > 0):
		errs.add("failedLoginWindow", "must be positive while failedLoginsAccount or failedLoginsIp is set")
	}
	normalizeSessionActions(&errs, &s.SessionActions)
	if s.RefreshAnomalyPerMinute < 0 {
		errs.add("refreshAnomalyPerMinute", "must not be negative (0 turns it off)")
	}
	if s.MaxSessionsPerUser < 0 {
		errs.add("maxSessionsPerUser", "must not be negative (0 means no cap)")
	}
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

// normalizeCountries trims, upper-cases and de-duplicates codes, reporting
// each entry that is not an ISO 3166-1 alpha-2 code at its input index. It
// returns the codes kept and, for each, its index in the input.
func normalizeCountries(errs *fieldErrors, field string, codes []string) (out []string, inputIndex []int) {
	out = make([]string, 0, len(codes))
	for i, raw := range codes {
		code := asciiUpper(strings.TrimSpace(raw))
		if !ValidCountry(code) {
			errs.add(field+"["+strconv.Itoa(i)+"]", strconv.Quote(raw)+" is not an ISO 3166-1 alpha-2 country code")
			continue
		}
		if !containsFold(out, code) {
			out = append(out, code)
			inputIndex = append(inputIndex, i)
		}
	}
	return out, inputIndex
}

// asciiUpper upper-cases ASCII letters only: strings.ToUpper would turn the
// dotless "ı" into "I" and let "ıt" pass as Italy.
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// optionalActionsFrom is the index in normalizeActions' list of the first
// action that may be left empty (allow).
const optionalActionsFrom = 7

// normalizeActions checks each policy action by its JSON name.
func normalizeActions(errs *fieldErrors, a *Actions) {
	fields := [...]struct {
		name   string
		action *Action
	}{
		{"vpn", &a.VPN},
		{"proxy", &a.Proxy},
		{"tor", &a.Tor},
		{"datacenter", &a.Datacenter},
		{"threat", &a.Threat},
		{"geofence", &a.Geofence},
		{"lowScore", &a.LowScore},
		{"newCountry", &a.NewCountry},
		{"newDevice", &a.NewDevice},
	}
	for i, f := range fields {
		*f.action = Action(strings.ToLower(strings.TrimSpace(string(*f.action))))
		// newCountry and newDevice came later: a document without them
		// (or a library's Actions literal) means allow, as before.
		if *f.action == "" && i >= optionalActionsFrom {
			*f.action = ActionAllow
		}
		if !f.action.Valid() {
			errs.add("actions."+f.name, "must be block, challenge, alert or allow")
		}
	}
}

// normalizeSessionActions checks each session-protection action by its
// JSON path; an empty one (a document from before session protection)
// takes its documented default.
func normalizeSessionActions(errs *fieldErrors, a *SessionActions) {
	for _, f := range sessionActionFields(a) {
		*f.action = Action(strings.ToLower(strings.TrimSpace(string(*f.action))))
		if *f.action == "" {
			*f.action = *f.def
		}
		if !ValidSessionAction(*f.action) {
			errs.add("sessionActions."+f.name, "must be terminate, challenge, alert or allow")
		}
	}
}

// sessionActionField is one session-protection action with its JSON name
// and default.
type sessionActionField struct {
	name   string
	action *Action
	def    *Action
}

// sessionActionFields lists a's actions by JSON name, in SessionActionKeys'
// order.
func sessionActionFields(a *SessionActions) [len(sessionActionTable)]sessionActionField {
	var out [len(sessionActionTable)]sessionActionField
	for i, f := range sessionActionTable {
		out[i] = sessionActionField{f.key, f.get(a), f.get(&DefaultSessionActions)}
	}
	return out
}

// containsFold reports whether list holds v, ignoring case.
func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
