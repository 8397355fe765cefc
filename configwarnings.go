package sessionmanager

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
)

// ConfigWarning is a feature that is turned on but cannot work as
// configured (a geo-fence with no country data, Tor set to block with no
// Tor list...). The admin API, the dashboard's banner and data page, the
// start-up log and /metrics show the same list.
type ConfigWarning struct {
	// Code is a stable identifier (WarnGeofenceNoCountry...).
	Code string `json:"code"`
	// Message says what does not work and why, in one sentence.
	Message string `json:"message"`
	// Variables are the environment variables that provide what is missing.
	Variables []string `json:"variables,omitempty"`
	// Setting is the settings path that turns the feature off instead.
	Setting string `json:"setting,omitempty"`
}

// Configuration warning codes.
const (
	WarnNoCountryData       = "no_country_data"
	WarnGeofenceNoCountry   = "geofence_no_country_data"
	WarnNewCountryNoCountry = "new_country_alerts_no_country_data"
	WarnTorNoData           = "tor_no_data"
	WarnVPNNoData           = "vpn_no_data"
	WarnProxyNoData         = "proxy_no_data"
	WarnDatacenterNoData    = "datacenter_no_data"
	WarnThreatNoData        = "threat_no_data"
	WarnUntrustedProxy      = "untrusted_forwarded_for"
	WarnChallengeNoEmail    = "challenge_no_email_codes"
	WarnPasskeysOff         = "passkeys_off"
	WarnReportLinkOff       = "report_link_off"
	WarnInviteLinkHost      = "invite_link_request_host"
	WarnProtectionNoJudge   = "session_protection_no_judge"
)

// SetupWarning is a configuration warning the wiring knows at start-up (a
// passkey relying party that cannot be derived, a link without a public
// URL); it is shown while the edition allows Needs ("": always).
type SetupWarning struct {
	Needs string
	ConfigWarning
}

// WarningInput is what the configuration warnings are computed from.
type WarningInput struct {
	// Settings are the effective settings (after the licence gates).
	Settings *Settings
	// Geo is the state of the geo and threat sources.
	Geo GeoStatus
	// Allows is the licence gate; nil allows every feature.
	Allows func(feature string) bool
	// NoSessionJudge: the risk engine cannot judge live sessions
	// (Config.Risk is not a SessionJudge), so session protection is off.
	NoSessionJudge bool
	// AlertTriggers are the triggers of the enabled alert rules.
	AlertTriggers []string
	// UntrustedForwardedFor counts requests that carried X-Forwarded-For
	// from a peer not in SM_TRUSTED_PROXIES; UntrustedPeer is the last one.
	UntrustedForwardedFor int64
	UntrustedPeer         string
	// EmailCodes says the email one-time code factor is registered (an
	// outgoing mail server is configured).
	EmailCodes bool
	// Passkeys says passkeys are on (a relying party is configured).
	Passkeys bool
	// Setup are the warnings of the wiring (Config.SetupWarnings).
	Setup []SetupWarning
}

// threatCheck is one threat capability, the policy that uses it, the alert
// trigger that uses it and where its data comes from.
type threatCheck struct {
	code, capability, label, setting, trigger string
	action                                    func(*Actions) Action
	variables                                 []string
}

var threatChecks = []threatCheck{
	{WarnTorNoData, GeoTor, "Tor exit", "actions.tor", "tor", func(a *Actions) Action { return a.Tor },
		[]string{"SM_TOR_EXITS", "SM_THREAT_FEEDS"}},
	{WarnVPNNoData, GeoVPN, "VPN", "actions.vpn", "vpn", func(a *Actions) Action { return a.VPN },
		[]string{"SM_VPN_RANGES", "SM_THREAT_FEEDS", "SM_GEOIP_DB"}},
	{WarnProxyNoData, GeoProxy, "proxy", "actions.proxy", "proxy", func(a *Actions) Action { return a.Proxy },
		[]string{"SM_PROXY_RANGES", "SM_GEOIP_DB"}},
	{WarnDatacenterNoData, GeoDatacenter, "datacenter", "actions.datacenter", "datacenter", func(a *Actions) Action { return a.Datacenter },
		[]string{"SM_DATACENTER_RANGES", "SM_THREAT_FEEDS", "SM_GEO_BUILTIN"}},
	{WarnThreatNoData, GeoThreat, "known-threat", "actions.threat", "threat", func(a *Actions) Action { return a.Threat },
		[]string{"SM_THREAT_RANGES", "SM_THREAT_FEEDS"}},
}

// countryVariables provide country data.
var countryVariables = []string{"SM_GEO_BUILTIN", "SM_GEOIP_DB"}

// ConfigWarnings lists what is turned on (and allowed by the licence) but
// has no data to work with, and X-Forwarded-For arriving from an
// untrusted peer. It is a pure function of its input.
func ConfigWarnings(in WarningInput) []ConfigWarning {
	allows := func(f string) bool { return in.Allows == nil || in.Allows(f) }
	s := in.Settings
	if s == nil {
		s = DefaultSettings()
	}
	var out []ConfigWarning
	geoOn := allows(FeatureGeo)
	riskOn := geoOn && allows(FeatureRisk)
	if geoOn && !in.Geo.Has(GeoCountry) {
		out = append(out, ConfigWarning{Code: WarnNoCountryData, Variables: countryVariables,
			Message: "No source provides country data: sessions record no location and country-based features do nothing"})
	}
	if riskOn && allows(FeatureGeofence) && (len(s.AllowedCountries) > 0 || len(s.BlockedCountries) > 0) && !in.Geo.Has(GeoCountry) {
		msg := "A geo-fence (allowed or blocked countries) is set but no source provides country data, so it is not applied"
		if len(s.AllowedCountries) > 0 && s.GeoLookupFailure == "block" {
			msg = "An allow list is set with geoLookupFailure \"block\" but no source provides country data, so every login outside the local network is refused"
		}
		out = append(out, ConfigWarning{Code: WarnGeofenceNoCountry, Message: msg, Variables: countryVariables, Setting: "allowedCountries, blockedCountries"})
	}
	alertsOn := geoOn && allows(FeatureAlerts)
	if alertsOn && slices.Contains(in.AlertTriggers, "new_country") && !in.Geo.Has(GeoCountry) {
		out = append(out, ConfigWarning{Code: WarnNewCountryNoCountry, Variables: countryVariables, Setting: "alert rules (trigger new_country)",
			Message: "An enabled alert rule fires on new_country but no source provides country data, so it never fires"})
	}
	threatOn := geoOn && allows(FeatureThreat)
	for _, c := range threatChecks {
		if !threatOn || in.Geo.Has(c.capability) {
			continue
		}
		var uses []string
		if a := c.action(&s.Actions); riskOn && a != ActionAllow && a != "" {
			uses = append(uses, fmt.Sprintf("The %s policy is %q", c.label, a))
		}
		if alertsOn && slices.Contains(in.AlertTriggers, c.trigger) {
			uses = append(uses, fmt.Sprintf("an enabled alert rule fires on %s", c.trigger))
		}
		if len(uses) == 0 {
			continue
		}
		what := strings.ToUpper(uses[0][:1]) + uses[0][1:]
		if len(uses) > 1 {
			what += " and " + uses[1]
		}
		out = append(out, ConfigWarning{Code: c.code, Variables: c.variables, Setting: c.setting,
			Message: fmt.Sprintf("%s but no source provides %s data%s, so no login is flagged", what, c.label, pendingSources(in.Geo, c.capability))})
	}
	if !in.EmailCodes && allows(FeatureChallenge) {
		protectOn := allows(FeatureProtect) && !in.NoSessionJudge
		if w, ok := challengeNoEmailWarning(s, protectOn, in.Passkeys); ok {
			out = append(out, w)
		}
	}
	if in.NoSessionJudge && allows(FeatureProtect) && sessionActionsOn(&s.SessionActions) {
		out = append(out, ConfigWarning{Code: WarnProtectionNoJudge, Setting: "sessionActions",
			Message: "Session protection has actions set but the risk engine cannot judge live sessions (Config.Risk is not a SessionJudge, e.g. risk.Engine), so no session is watched"})
	}
	for _, w := range in.Setup {
		if w.Needs == "" || allows(w.Needs) {
			out = append(out, w.ConfigWarning)
		}
	}
	if in.UntrustedForwardedFor > 0 {
		out = append(out, ConfigWarning{Code: WarnUntrustedProxy, Variables: []string{"SM_TRUSTED_PROXIES"},
			Message: fmt.Sprintf("X-Forwarded-For received from an untrusted peer (%s, %d requests): every session records the proxy's address; set SM_TRUSTED_PROXIES", in.UntrustedPeer, in.UntrustedForwardedFor)})
	}
	return out
}

// sessionActionsOn reports whether any session-protection action is not
// allow.
func sessionActionsOn(a *SessionActions) bool {
	for _, f := range sessionActionFields(a) {
		if *f.action != ActionAllow {
			return true
		}
	}
	return false
}

// challengeNoEmailWarning is the warning that challenges are set but
// email codes are off: a challenged login (actions) or a challenged
// session (sessionActions, when protectOn) can then be answered only with
// TOTP or a passkey.
func challengeNoEmailWarning(s *Settings, protectOn, passkeys bool) (ConfigWarning, bool) {
	logins := challengedConditions(&s.Actions)
	var sessions []string
	if protectOn {
		sessions = challengedSessionActions(&s.SessionActions)
	}
	if len(logins) == 0 && len(sessions) == 0 {
		return ConfigWarning{}, false
	}
	factors := map[bool]string{true: "TOTP or a passkey", false: "TOTP (passkeys are off too)"}[passkeys]
	var settings, uses, others []string
	if len(logins) > 0 {
		settings = append(settings, "actions ("+strings.Join(logins, ", ")+")")
		uses = append(uses, fmt.Sprintf("The %s policy challenges logins", strings.Join(logins, ", ")))
		others = append(others, fmt.Sprintf("a challenged login gets challengeFallback %q", s.ChallengeFallback))
	}
	if len(sessions) > 0 {
		settings = append(settings, "sessionActions ("+strings.Join(sessions, ", ")+")")
		uses = append(uses, fmt.Sprintf("the session action %s asks live sessions for a step-up", strings.Join(sessions, ", ")))
		others = append(others, "a challenged session must sign in again once its access token expires")
	}
	what := strings.ToUpper(uses[0][:1]) + uses[0][1:]
	if len(uses) > 1 {
		what += " and " + uses[1]
	}
	return ConfigWarning{Code: WarnChallengeNoEmail, Variables: []string{"SMTP_URL"}, Setting: strings.Join(settings, ", "),
		Message: fmt.Sprintf("%s but email codes are off (no outgoing mail server): only users with %s can pass; for the others %s",
			what, factors, strings.Join(others, ", and "))}, true
}

// challengedConditions names the policy conditions whose action is
// challenge.
func challengedConditions(a *Actions) []string {
	var on []string
	for _, c := range []struct {
		name   string
		action Action
	}{{"vpn", a.VPN}, {"proxy", a.Proxy}, {"tor", a.Tor}, {"datacenter", a.Datacenter}, {"threat", a.Threat},
		{"geofence", a.Geofence}, {"lowScore", a.LowScore}, {"newCountry", a.NewCountry}, {"newDevice", a.NewDevice}} {
		if c.action == ActionChallenge {
			on = append(on, c.name)
		}
	}
	return on
}

// challengedSessionActions names the session actions that are challenge.
func challengedSessionActions(a *SessionActions) []string {
	var on []string
	for _, f := range sessionActionFields(a) {
		if *f.action == ActionChallenge {
			on = append(on, f.name)
		}
	}
	return on
}

// pendingSources says why enabled sources of capability have no records
// yet: a download that failed, one not done yet (its Note), or none.
func pendingSources(st GeoStatus, capability string) string {
	var why []string
	for _, src := range st.Sources {
		if !src.Enabled || src.Records > 0 || !slices.Contains(src.Provides, capability) {
			continue
		}
		switch {
		case src.LastError != "":
			why = append(why, fmt.Sprintf("%s failed: %s", src.Name, src.LastError))
		case src.Note != "":
			why = append(why, fmt.Sprintf("%s: %s", src.Name, src.Note))
		default:
			why = append(why, src.Name+" has no records yet")
		}
	}
	if len(why) == 0 {
		return ""
	}
	return " (" + strings.Join(why, "; ") + ")"
}

// Missing lists the capabilities no enabled source with records provides.
func (s GeoStatus) Missing() []string {
	var out []string
	for _, c := range []string{GeoCountry, GeoCity, GeoASN, GeoTor, GeoVPN, GeoProxy, GeoDatacenter, GeoThreat} {
		if !s.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// GeoStatus describes the geo and threat sources: the resolver's own
// report when it gives one; a resolver that does not, or none, answers a
// status with no sources (every capability missing).
func (m *Manager) GeoStatus() GeoStatus {
	if r, ok := m.cfg.Geo.(GeoStatusReporter); ok {
		return r.GeoStatus()
	}
	return NewGeoStatus(nil, false)
}

// ConfigWarnings computes the configuration warnings of this instance from
// the effective settings, the geo status, the licence, the enabled alert
// rules and the untrusted X-Forwarded-For count.
func (m *Manager) ConfigWarnings(ctx context.Context) []ConfigWarning {
	in := WarningInput{Settings: m.effectiveSettings(m.currentSettings(ctx)), Geo: m.GeoStatus(), Allows: m.cfg.Allows,
		EmailCodes: m.factors.get(MethodEmail) != nil, Passkeys: m.cfg.Passkeys != nil, Setup: m.cfg.SetupWarnings}
	_, judges := m.cfg.Risk.(SessionJudge)
	in.NoSessionJudge = !judges
	in.UntrustedForwardedFor, in.UntrustedPeer = m.UntrustedForwardedFor()
	if m.cfg.AlertRules != nil {
		rules, err := m.cfg.AlertRules.List(ctx)
		if err != nil {
			m.log.Warn("configuration warnings: alert rules unavailable", "err", err)
		}
		for _, r := range rules {
			if r.Enabled {
				in.AlertTriggers = append(in.AlertTriggers, r.Triggers...)
			}
		}
	}
	return ConfigWarnings(in)
}

// untrustedProxy counts X-Forwarded-For headers from untrusted peers.
type untrustedProxy struct {
	count atomic.Int64
	last  atomic.Pointer[netip.Addr]
}

// NoteUntrustedForwardedFor records a request that carried X-Forwarded-For
// from peer, which is not a trusted proxy (the HTTP front end calls it):
// behind such a proxy every session records the proxy's address.
func (m *Manager) NoteUntrustedForwardedFor(peer netip.Addr) {
	m.proxyWarn.count.Add(1)
	if p := m.proxyWarn.last.Load(); p == nil || *p != peer {
		m.proxyWarn.last.Store(&peer)
	}
}

// UntrustedForwardedFor reports how many requests carried X-Forwarded-For
// from an untrusted peer on this instance, and the last such peer.
func (m *Manager) UntrustedForwardedFor() (count int64, lastPeer string) {
	if p := m.proxyWarn.last.Load(); p != nil {
		lastPeer = p.String()
	}
	return m.proxyWarn.count.Load(), lastPeer
}
