package sessionmanager

import (
	"net/netip"
	"strings"
	"time"
)

// Status is the state of a session.
type Status string

// Session states. Inactive is presence only (shown as idle): activity makes
// the session active again. Ended is final.
const (
	StatusActive   Status = "active"
	StatusInactive Status = "inactive"
	StatusEnded    Status = "ended"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusInactive || s == StatusEnded
}

// EndReason says why a session ended.
type EndReason string

// End reasons.
const (
	EndLogout          EndReason = "logout"
	EndManual          EndReason = "manual"
	EndIdle            EndReason = "idle"
	EndExpired         EndReason = "expired"
	EndBlocked         EndReason = "blocked"
	EndRefreshReuse    EndReason = "refresh_reuse"
	EndPasswordChanged EndReason = "password_changed"
	EndEvicted         EndReason = "evicted"
	EndErased          EndReason = "erased"
	// EndReported: the user said "This wasn't me" (the emailed link).
	EndReported EndReason = "reported"
	// EndHijackSuspected: session protection saw the session used in a way
	// its owner could not have (another device family on a refresh, for
	// example) and its policy said terminate.
	EndHijackSuspected EndReason = "hijack_suspected"
)

// AuthMethod says how the user signed in.
type AuthMethod string

// Auth methods.
const (
	AuthPassword  AuthMethod = "password"
	AuthMagicLink AuthMethod = "magic_link"
	AuthExternal  AuthMethod = "external"
)

// Device is the parsed user agent.
type Device struct {
	// Type is desktop, mobile, tablet, tv, bot or unknown.
	Type           string `json:"type"`
	Browser        string `json:"browser"`
	BrowserVersion string `json:"browserVersion,omitempty"`
	OS             string `json:"os"`
	OSVersion      string `json:"osVersion,omitempty"`
}

// Name is the device as people say it: "Chrome on macOS", "Firefox",
// "Android" (the label of Strapi 5's session list); "" when nothing is known.
func (d Device) Name() string {
	switch {
	case d.Browser != "" && d.OS != "":
		return d.Browser + " on " + d.OS
	case d.Browser != "":
		return d.Browser
	}
	return d.OS
}

// Family is the browser+OS family used for new-device detection.
func (d Device) Family() string { return d.Browser + "/" + d.OS }

// Personal reports whether the device is one a person uses, so a family
// worth comparing: not an unparsed user agent, and not an HTTP library's
// (type bot: curl, Go-http-client), which on a browser's session is
// usually a back end calling for the user.
func (d Device) Personal() bool {
	return d.Browser != "" && d.Type != "" && d.Type != "unknown" && d.Type != "bot"
}

// Session is the persistent record of one sign-in.
type Session struct {
	// ID is opaque, at least 128 random bits.
	ID     string `json:"id"`
	UserID string `json:"userId"`
	// UserEmail and Username are filled by the store on reads (a join).
	UserEmail  string     `json:"userEmail,omitempty"`
	Username   string     `json:"username,omitempty"`
	Status     Status     `json:"status"`
	EndReason  EndReason  `json:"endReason,omitempty"`
	AuthMethod AuthMethod `json:"authMethod"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastSeenAt time.Time  `json:"lastSeenAt"`
	// EndedAt is zero while the session is not ended.
	EndedAt time.Time `json:"endedAt,omitzero"`
	// ExpiresAt is the absolute expiry (maxSessionAge after login).
	ExpiresAt time.Time  `json:"expiresAt"`
	IP        netip.Addr `json:"ip"`
	UserAgent string     `json:"userAgent"`
	// DeviceID is the client's own name for its device (Strapi 5's
	// deviceId), given at sign-in; empty when none was given. A logout of
	// one device ends the user's live sessions that carry it.
	DeviceID string   `json:"deviceId,omitempty"`
	Device   Device   `json:"device"`
	Location Location `json:"location"`
	Threat   Threat   `json:"threat"`
	// Score is the security score at login, 0-100 (100 = no concern).
	Score   int          `json:"score"`
	Reasons []RiskReason `json:"reasons"`
	// AuthContext is how and when the user last proved who they are
	// (authTime, amr, acr): set at login, raised by a passed challenge
	// or a step-up.
	AuthContext
	// Trail is where the session has been since login, oldest first, at
	// most MaxTrail entries plus the newest challenge and terminate ones
	// when older (the login itself is the session's own IP,
	// Location and Device, not an entry). Filled by SessionByID.
	Trail []TrailEntry `json:"trail,omitempty"`
	// Suspected is the code of the last session-protection signal that
	// fired for this session ("" when none), at SuspectedAt.
	Suspected   string    `json:"suspected,omitempty"`
	SuspectedAt time.Time `json:"suspectedAt,omitzero"`
	// DPoPJKT is the RFC 7638 thumbprint of the key the session is bound
	// to (RFC 9449), "" for an unbound session.
	DPoPJKT string `json:"dpopJkt,omitempty"`
	// RefreshFamily identifies the chain of refresh tokens of this session.
	RefreshFamily string `json:"-"`
	// RefreshSealed is the current refresh token sealed with AES-256-GCM, kept
	// so that a retry within the grace window gets the same answer.
	RefreshSealed []byte `json:"-"`
	// RefreshRotatedAt is when the current refresh token replaced the previous.
	RefreshRotatedAt time.Time `json:"-"`
}

// Live reports whether the session still authorises requests at now.
func (s *Session) Live(now time.Time) bool {
	return s.Status != StatusEnded && now.Before(s.ExpiresAt)
}

// RefreshToken is a stored refresh token: only its HMAC lookup hash.
type RefreshToken struct {
	Hash      []byte
	SessionID string
	CreatedAt time.Time
	// ReplacedAt is zero while the token is the session's current one.
	ReplacedAt time.Time
}

// RotateRefresh asks the store to replace a session's current refresh token.
type RotateRefresh struct {
	SessionID string
	OldHash   []byte
	NewHash   []byte
	NewSealed []byte
	At        time.Time
}

// LastSeen is one activity note for a session.
type LastSeen struct {
	SessionID string
	At        time.Time
}

// SessionSort is a sort key for session lists.
type SessionSort string

// Sort keys.
const (
	SortCreated  SessionSort = "created_at"
	SortLastSeen SessionSort = "last_seen"
	SortScore    SessionSort = "score"
)

// SessionFilter selects sessions for a list page or an export. Zero fields
// do not filter.
type SessionFilter struct {
	Status     []Status
	UserID     string
	Country    string
	IPPrefix   netip.Prefix // a single address is a /32 or /128 prefix
	DeviceType string
	// AnyThreat keeps sessions with at least one of these flags set.
	AnyThreat  Threat
	ScoreBelow *int
	From, To   time.Time // on CreatedAt: From inclusive, To exclusive
	// Search matches a substring of the user's email/username, the IP, the
	// browser, the OS, the city or the ISP (case-insensitive). A search
	// that is a partial address (SearchIsIPPrefix) matches the user's
	// email/username as a substring and the IP as a prefix, nothing else.
	Search string
	// SearchCountries widens Search to the sessions in these countries
	// (ISO codes): the countries Search names (CountriesNamed), so that
	// "germany" or "uk" finds sessions by their country too.
	SearchCountries []string
	// Suspected keeps only sessions session protection marked suspected.
	Suspected bool
	Sort      SessionSort
	Desc      bool
	// Limit is the page size (the store caps it at 500, default 50).
	Limit  int
	Cursor string
}

// SessionPage is one page of a session list.
type SessionPage struct {
	Sessions   []*Session
	NextCursor string // empty on the last page
}

// StaleSweep asks the store to apply the inactivity rules at Now.
type StaleSweep struct {
	Now time.Time
	// InactiveBefore: active sessions last seen before it become inactive.
	InactiveBefore time.Time
	// IdleBefore, when not zero: live sessions last seen before it end (idle).
	IdleBefore time.Time
	// Limit, when above zero, bounds each step of the sweep (idle ends,
	// expiry ends, inactive marks) to that many sessions, in one short
	// transaction. A step that comes back full may have more to do; while
	// an end step is full, the store leaves the inactive marks for a later
	// call, so sessions are ended before they would be marked inactive.
	Limit int
}

// FullStep reports whether a step of the sweep that changed n sessions
// reached sw.Limit: it may have more to do.
func (sw StaleSweep) FullStep(n int) bool { return sw.Limit > 0 && n >= sw.Limit }

// Full reports whether a sweep call filled any of its steps (inactivated,
// and the ended sessions by reason): then there may be more to sweep.
func (sw StaleSweep) Full(inactivated int, ended []Ended) bool {
	idle := 0
	for _, e := range ended {
		if e.Reason == EndIdle {
			idle++
		}
	}
	return sw.FullStep(inactivated) || sw.FullStep(idle) || sw.FullStep(len(ended)-idle)
}

// Ended names a session that a store operation ended.
type Ended struct {
	SessionID string
	UserID    string
	Reason    EndReason
}

// MaxTrail is how many trail entries a session keeps (the newest); the
// newest challenge and terminate entries are kept beyond them, so a
// pending challenge cannot be pushed out by cheap moves.
const MaxTrail = 20

// TrailEntry is one place and device a session was used from after its
// login: written when the address or the device family changed.
type TrailEntry struct {
	At          time.Time  `json:"at"`
	IP          netip.Addr `json:"ip"`
	CountryCode string     `json:"countryCode,omitempty"`
	City        string     `json:"city,omitempty"`
	ASN         uint32     `json:"asn,omitempty"`
	ISP         string     `json:"isp,omitempty"`
	Latitude    float64    `json:"latitude,omitempty"`
	Longitude   float64    `json:"longitude,omitempty"`
	// Device is Device.Family() of the request ("Chrome/macOS").
	Device string `json:"device,omitempty"`
	// Threat are the address's threat flags (VPN, Tor...).
	Threat Threat `json:"threat,omitzero"`
	// Signals are the session-protection signals this move fired.
	Signals []string `json:"signals,omitempty"`
	// Action is what session protection did about the move when it was
	// challenge (the next refresh asks for a step-up) or terminate; empty
	// for allow and alert.
	Action Action `json:"action,omitempty"`
}

// StoredTrailEntry is e as a store keeps it: its time in UTC to the
// microsecond, like every stored time, and its texts without NUL
// characters (which PostgreSQL's jsonb refuses).
func StoredTrailEntry(e TrailEntry) TrailEntry {
	e.At = e.At.UTC().Truncate(time.Microsecond)
	noNUL := func(s string) string { return strings.ReplaceAll(s, "\x00", "") }
	e.CountryCode, e.City, e.ISP, e.Device = noNUL(e.CountryCode), noNUL(e.City), noNUL(e.ISP), noNUL(e.Device)
	if e.Signals != nil {
		signals := make([]string, len(e.Signals))
		for i, s := range e.Signals {
			signals[i] = noNUL(s)
		}
		e.Signals = signals
	}
	return e
}

// TrailNote asks the store to append Entry to a session's trail (keeping
// the newest MaxTrail) and, when Suspected is not empty, to mark the
// session suspected with that code at Entry.At.
type TrailNote struct {
	SessionID string
	Entry     TrailEntry
	Suspected string
}

// SearchIsIPPrefix reports whether a session search reads as the start of
// an IP address, which the stores match as a prefix of the session's IP
// rather than a substring of its text: digits and dots (at least one
// digit), or hex digits, colons and dots with at least one colon. Someone
// typing 203.0.113 means the addresses that start so, not 45.203.0.113,
// and a prefix is a range of an ordinary index, where a substring of
// digits and dots is a search of the trigram index through its most common
// trigrams (docs/SCALE.md). Any other search is a substring of every field.
func SearchIsIPPrefix(search string) bool {
	digit, colon := false, false
	for _, r := range search {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r == '.':
		case r == ':':
			colon = true
		case r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F':
			if !strings.ContainsRune(search, ':') {
				return false
			}
		default:
			return false
		}
	}
	return digit || colon
}
