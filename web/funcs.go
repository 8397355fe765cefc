package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"asset":       asset,
		"rel":         relTime,
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":        fmtTime,
		"status":      sessionStatus,
		"deviceIcon":  deviceIcon,
		"flag":        sm.FlagEmoji,
		"flagURL":     flagURL,
		"aliases":     func(code string) string { return strings.Join(sm.CountryAliases(code), " ") },
		"reasonTitle": reasonTitle,
		"country":     countryName,
		"threats":     threatBadges,
		"scoreClass":  scoreClass,
		"num":         formatCount,
		"countInt":    func(n int) string { return formatCount(int64(n)) },
		"dur":         formatDuration,
		"pretty":      prettyJSON,
		"reasonLabel": reasonLabel,
		"eventLabel":  eventLabel,
		"lookalike":   sm.LooksAlike,
		"identityKey": sm.IdentityKey,
		"eventReason": eventReason,
		"challenged":  challenged,
		"dict":        dict,
		"tokenScopes": func() any { return tokenScopes },
		"short":       func(id string) string { return shorten(id, 10) },
		"shorten":     shorten,
		"deviceText":  deviceText,
		"place":       placeText,
		"trailPlace":  trailPlace,
		"inc":         func(i int) int { return i + 1 },
		"maxTrail":    func() int { return sm.MaxTrail },
		"ipText": func(s *sm.Session) string {
			if !s.IP.IsValid() {
				return "-"
			}
			return s.IP.String()
		},
		"userLabel": func(s *sm.Session) string {
			if s.UserEmail != "" {
				return s.UserEmail
			}
			if s.Username != "" {
				return s.Username
			}
			return s.UserID
		},
	}
}

// sessionStatus is the word shown for a session: online, idle or ended.
func sessionStatus(s *sm.Session) string {
	switch s.Status {
	case sm.StatusActive:
		return "online"
	case sm.StatusInactive:
		return "idle"
	}
	return "ended"
}

// relTime says how long ago (or until) t was from now, in one unit.
func relTimeAt(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func relTime(t time.Time, now time.Time) string { return relTimeAt(t, now) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// deviceIcon is the id of the icon symbol in static/icons.svg.
func deviceIcon(typ string) string {
	switch typ {
	case "desktop", "mobile", "tablet", "tv", "bot":
		return typ
	}
	return "unknown"
}

func deviceText(d sm.Device) string {
	var parts []string
	if d.Browser != "" {
		parts = append(parts, strings.TrimSpace(d.Browser+" "+majorVersion(d.BrowserVersion)))
	}
	if d.OS != "" {
		parts = append(parts, strings.TrimSpace(d.OS+" "+d.OSVersion))
	}
	if len(parts) == 0 {
		return "Unknown device"
	}
	return strings.Join(parts, " · ")
}

func majorVersion(v string) string {
	if i := strings.IndexByte(v, '.'); i > 0 {
		return v[:i]
	}
	return v
}

// placeText is "City, Country" or what of it is known.
func placeText(l sm.Location) string {
	switch {
	case l.Local:
		return "Local network"
	case l.City != "" && l.CountryName != "":
		return l.City + ", " + l.CountryName
	case l.CountryName != "":
		return l.CountryName
	case l.CountryCode != "":
		return countryName(l.CountryCode)
	}
	return "Unknown"
}

func countryName(code string) string {
	if n, ok := sm.CountryName(code); ok {
		return n
	}
	if code == "" {
		return "Unknown"
	}
	return code
}

// threatBadges names the threat flags that are set.
func threatBadges(t sm.Threat) []string {
	var out []string
	if t.VPN {
		out = append(out, "VPN")
	}
	if t.Proxy {
		out = append(out, "Proxy")
	}
	if t.Tor {
		out = append(out, "Tor")
	}
	if t.Datacenter {
		out = append(out, "Datacenter")
	}
	if t.KnownThreat {
		out = append(out, "Threat")
	}
	return out
}

// flagURL is the bundled SVG flag of a country (flag-icons, 4x3); "" for
// a code that has none. Images, not emoji: Windows draws flag emoji as two
// letters.
func flagURL(code string) string {
	if !sm.ValidCountry(code) {
		return ""
	}
	return asset("flags/" + strings.ToLower(code) + ".svg")
}

// reasonTitle is the score's tooltip: the scale and what lowered it.
func reasonTitle(score int, reasons []sm.RiskReason) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Security score %d of 100 (higher is safer)", score)
	for _, r := range reasons {
		fmt.Fprintf(&b, "\n−%d %s", r.Weight, reasonLabel(r.Code))
		if r.Detail != "" {
			b.WriteString(": " + r.Detail)
		}
	}
	return b.String()
}

func scoreClass(score int) string {
	switch {
	case score >= 70:
		return "good"
	case score >= 40:
		return "warn"
	}
	return "bad"
}

// formatCount writes n with thin thousands separators: 1 234 567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatDuration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Minute)
	if d < time.Minute {
		return fmt.Sprintf("%.0fs", seconds)
	}
	h := int(d / time.Hour)
	m := int((d % time.Hour) / time.Minute)
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh %02dm", h, m)
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

var reasonLabels = map[string]string{
	sm.ReasonTor: "Tor exit node", sm.ReasonKnownThreat: "Known threat address", sm.ReasonVPN: "VPN",
	sm.ReasonProxy: "Proxy", sm.ReasonDatacenter: "Datacenter address", sm.ReasonNewCountry: "New country",
	sm.ReasonNewDevice: "New device", sm.ReasonImpossibleTravel: "Impossible travel",
	sm.ReasonFailedLogins: "Recent failed logins", sm.ReasonGeofence: "Geo-fence",
	sm.ReasonLowScore: "Low score", sm.ReasonGeoLookupFailed: "Geo lookup failed", sm.ReasonUserBlocked: "User blocked",
	// Session-protection signals (a session's trail and suspected mark).
	sm.ReasonSessionIPChange: "IP changed", sm.ReasonSessionCountryChange: "Country changed",
	sm.ReasonSessionImpossibleTravel: "Impossible travel", sm.ReasonSessionDeviceChange: "Device changed",
	sm.ReasonRefreshAnomaly: "Refresh anomaly", string(sm.EndHijackSuspected): "Hijack suspected",
}

func reasonLabel(code string) string {
	if l, ok := reasonLabels[code]; ok {
		return l
	}
	return strings.ReplaceAll(code, "_", " ")
}

var eventLabels = map[string]string{
	sm.EventLoginSucceeded: "Signed in", sm.EventLoginFailed: "Failed login", sm.EventLoginBlocked: "Login blocked",
	sm.EventSessionRefreshed: "Tokens refreshed", sm.EventSessionEnded: "Session ended", sm.EventRefreshReuse: "Refresh token reuse",
	sm.EventSessionAnomaly: "Session anomaly",
	sm.EventUserRegistered: "Registered", sm.EventUserBlocked: "User blocked", sm.EventUserUnblocked: "User unblocked",
	sm.EventPasswordChanged: "Password changed", sm.EventUserErased: "User erased", sm.EventSettingsChanged: "Settings changed",
	sm.EventAdminAction: "Admin action", sm.EventMagicLinkSent: "Magic link sent",
	sm.EventLoginChallenged: "Login challenged", sm.EventChallengePassed: "Challenge passed", sm.EventChallengeFailed: "Challenge failed",
	sm.EventFactorAdded: "Second factor added", sm.EventFactorRemoved: "Second factor removed",
	sm.EventRecoveryCodesRegenerated: "Recovery codes replaced", sm.EventSessionSteppedUp: "Step-up",
	sm.EventSessionReported: "Reported: “This wasn't me”", sm.EventTrustedDeviceAdded: "Device remembered",
	sm.EventTrustedDeviceRevoked: "Trusted devices forgotten",
	sm.EventEmailConfirmed:       "Email confirmed", sm.EventEmailProven: "Email proven, unproven password voided",
	sm.EventAccountTokenSent:  "Account email sent",
	sm.EventSigningKeyRotated: "Signing key rotated", sm.EventSigningKeyWithdrawn: "Signing key withdrawn",
}

func eventLabel(typ string) string {
	if l, ok := eventLabels[typ]; ok {
		return l
	}
	return typ
}

// challenged reports whether a session's sign-in passed a challenge: a
// second proof (mfa) on a first factor that is not itself a passkey (a
// passwordless passkey sign-in is multi-factor without a challenge), proven
// when the session opened (a later step-up moves auth_time on, and is no
// challenge of the sign-in).
func challenged(s *sm.Session) bool {
	return slices.Contains(s.AMR, sm.AMRMFA) && s.AuthMethod != sm.AuthPasskey && !s.AuthTime.After(s.CreatedAt.Add(time.Second))
}

// eventReason is the "reason" (or "action") field of an event's data.
func eventReason(e *sm.Event) string {
	var d struct {
		Reason string `json:"reason"`
		Action string `json:"action"`
		Method string `json:"method"`
	}
	_ = json.Unmarshal(e.Data, &d)
	switch {
	case d.Reason != "":
		return reasonLabel(d.Reason)
	case e.Type == sm.EventLoginSucceeded:
		return strings.ReplaceAll(d.Method, "_", " ")
	case e.Type == sm.EventAdminAction:
		return d.Action
	}
	return ""
}

// dict builds a map for a sub-template: dict "k1" v1 "k2" v2.
func dict(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		m[k] = kv[i+1]
	}
	return m
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
