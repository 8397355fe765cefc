package risk

import (
	"math"
	"slices"
	"strconv"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

var _ sm.SessionJudge = Engine{}

// JudgeSession judges a live session seen at move.To after move.From (its
// login or its last judged place) and applies settings.SessionActions
// (nil settings: the defaults). It is pure and never panics.
//
//   - session_device_change: both device families are known and differ
//     (deviceChangeOnRefresh on a refresh, deviceChange on a request); an
//     unparsed user agent or an HTTP library's (type bot) is no device.
//   - session_impossible_travel: the login-time travel rule (judgeTravel)
//     between the two places: never for an anonymous network or a local
//     address.
//   - session_country_change: both countries known and different, neither
//     side on an anonymous network (its country is the exit's).
//   - session_ip_change: another address in another country, or onto a
//     VPN, proxy, Tor, hosting or known-threat network the session was not
//     already on (the same flags on the same AS is the same provider). Its
//     action is the stronger of sessionActions.ipChange and the login
//     policy of the new network's flags (actions.vpn, actions.tor...; block
//     reads as terminate): a VPN user is judged by the VPN rules.
//   - refresh_anomaly: a refresh while the session has had more than
//     refreshAnomalyPerMinute refreshes this minute.
func (Engine) JudgeSession(settings *sm.Settings, mv sm.SessionMove) sm.SessionVerdict {
	s := settings
	if s == nil {
		s = defaults
	}
	acts := &s.SessionActions
	var j judgement
	from, to := &mv.From, &mv.To

	if from.Device.Personal() && to.Device.Personal() && !sameFamily(&from.Device, &to.Device) {
		a := acts.DeviceChange
		if mv.Refresh {
			a = acts.DeviceChangeOnRefresh
		}
		j.add(sm.ReasonSessionDeviceChange, deviceLabel(&from.Device)+" -> "+deviceLabel(&to.Device),
			sessionAction(a, sm.DefaultSessionActions.DeviceChange))
	}

	local := from.Location.Local || to.Location.Local || addrIsLocal(from.IP) || addrIsLocal(to.IP)
	if from.IP != to.IP && from.IP.IsValid() && to.IP.IsValid() && !local {
		t := judgeTravel(s, from, to)
		if t.measured {
			j.verdict.DistanceKM = math.Round(t.km)
			if !math.IsInf(t.speed, 0) && !math.IsNaN(t.speed) {
				j.verdict.SpeedKMH = math.Round(t.speed)
			}
		}
		if t.impossible {
			j.add(sm.ReasonSessionImpossibleTravel, travelDetail(&from.Location, &to.Location, t.km, t.elapsed, t.speed),
				sessionAction(acts.ImpossibleTravel, sm.DefaultSessionActions.ImpossibleTravel))
		}
		countryChanged := from.Location.CountryCode != "" && to.Location.CountryCode != "" &&
			!strings.EqualFold(from.Location.CountryCode, to.Location.CountryCode) &&
			!from.Threat.Anonymous() && !to.Threat.Anonymous()
		if countryChanged {
			j.add(sm.ReasonSessionCountryChange, countryLabel(&from.Location)+" -> "+countryLabel(&to.Location),
				sessionAction(acts.CountryChange, sm.DefaultSessionActions.CountryChange))
		}
		if flagged(to.Threat) && !sameProvider(from, to) || countryChanged {
			a := sessionAction(acts.IPChange, sm.DefaultSessionActions.IPChange)
			if ta := threatSessionAction(s, to.Threat); ta.Strength() > a.Strength() {
				a = ta
			}
			j.add(sm.ReasonSessionIPChange, networkLabel(from)+" -> "+networkLabel(to), a)
		}
	}

	if mv.Refresh && s.RefreshAnomalyPerMinute > 0 && mv.Refreshes > int64(s.RefreshAnomalyPerMinute) {
		j.add(sm.ReasonRefreshAnomaly, strconv.FormatInt(mv.Refreshes, 10)+" refreshes of this session in one minute",
			sessionAction(acts.RefreshAnomaly, sm.DefaultSessionActions.RefreshAnomaly))
	}
	return j.done()
}

// judgement collects the signals of one move.
type judgement struct {
	verdict sm.SessionVerdict
	actions []sm.Action
}

func (j *judgement) add(code, detail string, a sm.Action) {
	j.verdict.Signals = append(j.verdict.Signals, sm.RiskReason{Code: code, Detail: detail})
	j.actions = append(j.actions, a)
}

// done orders the signals strongest action first (stable: the fixed order
// of collection breaks ties) and names the deciding one.
func (j *judgement) done() sm.SessionVerdict {
	v := j.verdict
	v.Action = sm.ActionAllow
	if len(v.Signals) == 0 {
		return v
	}
	idx := make([]int, len(v.Signals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return j.actions[y].Strength() - j.actions[x].Strength() })
	sorted := make([]sm.RiskReason, len(idx))
	for i, k := range idx {
		sorted[i] = v.Signals[k]
	}
	v.Signals = sorted
	v.Action, v.Reason = j.actions[idx[0]], sorted[0].Code
	return v
}

// sessionAction is a, or def when a is not a session action: an
// unvalidated document falls back to the documented default.
func sessionAction(a, def sm.Action) sm.Action {
	if sm.ValidSessionAction(a) {
		return a
	}
	return def
}

// threatSessionAction is the login policy of the flags of t read as a
// session action: block terminates, the others keep their name.
func threatSessionAction(s *sm.Settings, t sm.Threat) sm.Action {
	best := sm.ActionAllow
	for _, f := range [...]struct {
		on     bool
		action sm.Action
		def    sm.Action
	}{
		{t.Tor, s.Actions.Tor, defaults.Actions.Tor},
		{t.KnownThreat, s.Actions.Threat, defaults.Actions.Threat},
		{t.Proxy, s.Actions.Proxy, defaults.Actions.Proxy},
		{t.VPN, s.Actions.VPN, defaults.Actions.VPN},
		{t.Datacenter, s.Actions.Datacenter, defaults.Actions.Datacenter},
	} {
		if !f.on {
			continue
		}
		a := actionOr(f.action, f.def)
		if a == sm.ActionBlock {
			a = sm.ActionTerminate
		}
		if a.Strength() > best.Strength() {
			best = a
		}
	}
	return best
}

// flagged reports whether an address is on a network the login policy
// judges: anonymous (VPN, proxy, Tor, hosting) or a known threat.
func flagged(t sm.Threat) bool { return t.Anonymous() || t.KnownThreat }

// sameProvider reports whether both places are on one flagged network: the
// same flags on the same known AS (a VPN user between two exits of their
// provider).
func sameProvider(from, to *sm.SessionPlace) bool {
	return from.Threat == to.Threat && to.Location.ASN != 0 && from.Location.ASN == to.Location.ASN
}

// sameFamily compares browser and OS, ignoring case and versions.
func sameFamily(a, b *sm.Device) bool {
	return strings.EqualFold(a.Browser, b.Browser) && strings.EqualFold(a.OS, b.OS)
}

// deviceLabel is "Chrome on macOS".
func deviceLabel(d *sm.Device) string {
	if d.OS == "" {
		return d.Browser
	}
	return d.Browser + " on " + d.OS
}

// networkLabel is "DE, AS3320 (Deutsche Telekom), VPN".
func networkLabel(p *sm.SessionPlace) string {
	b := make([]byte, 0, 64)
	if p.Location.CountryCode != "" {
		b = append(b, p.Location.CountryCode...)
	}
	if p.Location.ASN != 0 {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "AS"...)
		b = strconv.AppendUint(b, uint64(p.Location.ASN), 10)
		if p.Location.ISP != "" {
			b = append(b, " ("...)
			b = append(b, p.Location.ISP...)
			b = append(b, ')')
		}
	}
	for _, f := range [...]struct {
		on   bool
		name string
	}{{p.Threat.Tor, "Tor"}, {p.Threat.VPN, "VPN"}, {p.Threat.Proxy, "proxy"}, {p.Threat.Datacenter, "hosting"}, {p.Threat.KnownThreat, "known threat"}} {
		if f.on {
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, f.name...)
		}
	}
	if len(b) == 0 {
		return p.IP.String()
	}
	return string(b)
}
