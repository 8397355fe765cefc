package sessionmanager

import (
	"net/netip"
	"time"
)

// Session-protection signals: a live session used from another place or
// device than its own record (docs/RISK.md, "Session-time signals").
const (
	// ReasonSessionIPChange: the address changed to another country or onto
	// an anonymous network (VPN, proxy, Tor, hosting). A move inside one
	// country on ordinary networks (a phone between its carrier's cells,
	// home to office) fires nothing.
	ReasonSessionIPChange = "session_ip_change"
	// ReasonSessionCountryChange: both places have a country and they differ
	// (never judged for an anonymous network: its country is the exit's).
	ReasonSessionCountryChange = "session_country_change"
	// ReasonSessionImpossibleTravel: the login-time travel rule between the
	// session's last place and time and now.
	ReasonSessionImpossibleTravel = "session_impossible_travel"
	// ReasonSessionDeviceChange: the device family (browser/OS) differs;
	// an unparsed user agent never fires.
	ReasonSessionDeviceChange = "session_device_change"
	// ReasonRefreshAnomaly: more refreshes of one session in a minute than
	// Settings.RefreshAnomalyPerMinute, counted on every instance together.
	ReasonRefreshAnomaly = "refresh_anomaly"
)

// SessionSignalCodes lists the session-protection signals in their fixed
// order (the tie-break when two decide the same action).
var SessionSignalCodes = []string{
	ReasonSessionDeviceChange, ReasonSessionImpossibleTravel, ReasonSessionCountryChange,
	ReasonSessionIPChange, ReasonRefreshAnomaly,
}

// ActionTerminate ends a live session at once with reason
// hijack_suspected, on every instance. A session-protection action only:
// a login is blocked, not terminated.
const ActionTerminate Action = "terminate"

// ValidSessionAction reports whether a is an action a session-protection
// signal may take: allow, alert, challenge or terminate.
func ValidSessionAction(a Action) bool {
	return a == ActionAllow || a == ActionAlert || a == ActionChallenge || a == ActionTerminate
}

// SessionActions says what session protection does for each signal.
type SessionActions struct {
	// IPChange: session_ip_change (another country or an anonymous network).
	// An address on a VPN, proxy, Tor or hosting network is also judged by
	// the login policy of that network (actions.vpn...: block terminates).
	IPChange         Action `json:"ipChange"`
	CountryChange    Action `json:"countryChange"`
	ImpossibleTravel Action `json:"impossibleTravel"`
	// DeviceChange is session_device_change on a request with an access
	// token, DeviceChangeOnRefresh on a refresh (the long-lived secret an
	// infostealer copies: the strongest sign of a copied token).
	DeviceChange          Action `json:"deviceChange"`
	DeviceChangeOnRefresh Action `json:"deviceChangeOnRefresh"`
	RefreshAnomaly        Action `json:"refreshAnomaly"`
}

// sessionActionTable is the one list of the session actions: each JSON
// name (sessionActions.<key>) with its field, in the dashboard's order.
// SessionActionKeys, SessionActions.ByKey, the validation and the licence
// locks derive from it.
var sessionActionTable = [...]struct {
	key string
	get func(*SessionActions) *Action
}{
	{"deviceChangeOnRefresh", func(a *SessionActions) *Action { return &a.DeviceChangeOnRefresh }},
	{"deviceChange", func(a *SessionActions) *Action { return &a.DeviceChange }},
	{"impossibleTravel", func(a *SessionActions) *Action { return &a.ImpossibleTravel }},
	{"countryChange", func(a *SessionActions) *Action { return &a.CountryChange }},
	{"ipChange", func(a *SessionActions) *Action { return &a.IPChange }},
	{"refreshAnomaly", func(a *SessionActions) *Action { return &a.RefreshAnomaly }},
}

// SessionActionKeys are the JSON names of the session actions
// (sessionActions.<key>), in the dashboard's order.
func SessionActionKeys() []string {
	keys := make([]string, len(sessionActionTable))
	for i, f := range sessionActionTable {
		keys[i] = f.key
	}
	return keys
}

// ByKey is the action named key (a SessionActionKeys entry), nil when key
// names none.
func (a *SessionActions) ByKey(key string) *Action {
	for _, f := range sessionActionTable {
		if f.key == key {
			return f.get(a)
		}
	}
	return nil
}

// DefaultSessionActions are the documented defaults (docs/RISK.md).
var DefaultSessionActions = SessionActions{
	IPChange:              ActionAllow,
	CountryChange:         ActionAlert,
	ImpossibleTravel:      ActionAlert,
	DeviceChange:          ActionAlert,
	DeviceChangeOnRefresh: ActionTerminate,
	RefreshAnomaly:        ActionAlert,
}

// SessionPlace is where and with what a session was used at a time.
type SessionPlace struct {
	At       time.Time
	IP       netip.Addr
	Location Location
	Threat   Threat
	Device   Device
}

// SessionMove is a live session seen at To after From (its login or its
// last judged place).
type SessionMove struct {
	From, To SessionPlace
	// Refresh: To is a refresh (else a request with an access token).
	Refresh bool
	// Refreshes counts this session's refreshes in the current minute on
	// every instance, this one included (0 on a request).
	Refreshes int64
}

// SessionVerdict is what session protection concluded about a move.
type SessionVerdict struct {
	// Signals fired, strongest action first.
	Signals []RiskReason
	// Action is the strongest action of the signals (allow when none).
	Action Action
	// Reason is the code of the signal that decided Action ("" when none).
	Reason string
	// DistanceKM and SpeedKMH are set when both places have coordinates.
	DistanceKM float64
	SpeedKMH   float64
}

// SessionJudge judges a live session's move (package risk's Engine).
// Implementations are pure: no I/O.
type SessionJudge interface {
	JudgeSession(settings *Settings, move SessionMove) SessionVerdict
}

// SessionAnomaly is the data of a session.anomaly event and of its alert:
// the signals, the action taken and the before/after facts.
type SessionAnomaly struct {
	Signals    []RiskReason `json:"signals"`
	Action     Action       `json:"action"`
	Refresh    bool         `json:"refresh"`
	Before     AnomalyPlace `json:"before"`
	After      AnomalyPlace `json:"after"`
	DistanceKM float64      `json:"distanceKm,omitempty"`
	SpeedKMH   float64      `json:"speedKmh,omitempty"`
}

// AnomalyPlace is one side of a session.anomaly: address, place, network
// and device.
type AnomalyPlace struct {
	At          time.Time `json:"at"`
	IP          string    `json:"ip"`
	CountryCode string    `json:"countryCode"`
	City        string    `json:"city"`
	ASN         uint32    `json:"asn"`
	ISP         string    `json:"isp"`
	Latitude    float64   `json:"latitude"`
	Longitude   float64   `json:"longitude"`
	Device      Device    `json:"device"`
	Threat      Threat    `json:"threat"`
}

// anomalyPlace is the event's view of a place.
func anomalyPlace(p *SessionPlace) AnomalyPlace {
	return AnomalyPlace{At: p.At.UTC(), IP: ipText(p.IP), CountryCode: p.Location.CountryCode, City: p.Location.City,
		ASN: p.Location.ASN, ISP: p.Location.ISP, Latitude: p.Location.Latitude, Longitude: p.Location.Longitude,
		Device: p.Device, Threat: p.Threat}
}
