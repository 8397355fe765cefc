package sessionmanager

import (
	"net/netip"
	"time"
)

// Reason codes of the risk score. Each is a signal with a weight.
const (
	ReasonTor              = "tor"
	ReasonKnownThreat      = "known_threat"
	ReasonVPN              = "vpn"
	ReasonProxy            = "proxy"
	ReasonDatacenter       = "datacenter"
	ReasonNewCountry       = "new_country"
	ReasonNewDevice        = "new_device"
	ReasonImpossibleTravel = "impossible_travel"
	ReasonFailedLogins     = "failed_logins"
	// Reasons that are policy outcomes, not score signals.
	ReasonGeofence        = "geofence"
	ReasonLowScore        = "low_score"
	ReasonGeoLookupFailed = "geo_lookup_failed"
	ReasonUserBlocked     = "user_blocked"
)

// RiskReason is one signal that lowered a login's security score.
type RiskReason struct {
	Code   string `json:"code"`
	Weight int    `json:"weight"`
	// Detail explains the signal to a person, e.g. "Berlin -> Sydney, 16100 km in 2h".
	Detail string `json:"detail,omitempty"`
}

// Action is what the policy does about a condition.
type Action string

// Actions.
const (
	ActionAllow Action = "allow"
	ActionAlert Action = "alert"
	// ActionChallenge asks the user for a second proof (a factor) before
	// the session is created (docs/AUTHENTICATION.md).
	ActionChallenge Action = "challenge"
	ActionBlock     Action = "block"
)

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	return a == ActionAllow || a == ActionAlert || a == ActionChallenge || a == ActionBlock
}

// Strength orders the actions: block > challenge > alert > allow (an
// unknown action is as weak as allow); terminate, a session-protection
// action, is above them all.
func (a Action) Strength() int {
	switch a {
	case ActionTerminate:
		return 4
	case ActionBlock:
		return 3
	case ActionChallenge:
		return 2
	case ActionAlert:
		return 1
	}
	return 0
}

// LoginAttempt is what is known about a login when it is scored.
type LoginAttempt struct {
	UserID string
	IP     netip.Addr
	Device Device
	Geo    GeoResult
	// GeoErr is set when the geo lookup failed.
	GeoErr error
	At     time.Time
}

// LoginHistory is what the store knows of the user's earlier logins.
type LoginHistory struct {
	// Countries are the country codes of the user's earlier sessions.
	Countries []string
	// DeviceFamilies are the Device.Family values of earlier sessions.
	DeviceFamilies []string
	// Previous is the user's most recent earlier session, nil if none.
	Previous *Session
	// FailedForAccount and FailedForIP count recent failed logins.
	FailedForAccount int64
	FailedForIP      int64
}

// Assessment is the score of a login and what the policy decided.
type Assessment struct {
	Score   int          `json:"score"`
	Reasons []RiskReason `json:"reasons"`
	// Action is the strongest action the policy took: block, challenge,
	// alert or allow.
	Action Action `json:"action"`
	// Triggered lists the policy conditions that fired (reason codes such
	// as tor, geofence, low_score) with their action.
	Triggered map[string]Action `json:"triggered,omitempty"`
	// BlockReason is the reason code of the block when Action is block.
	BlockReason string `json:"blockReason,omitempty"`
	// ChallengeReason is the reason code of the first condition whose
	// action is challenge (set whenever one fired, even under a block).
	ChallengeReason string `json:"challengeReason,omitempty"`
}

// RiskEngine scores a login and applies the policy. Implementations are
// pure: no I/O.
type RiskEngine interface {
	Assess(settings *Settings, attempt LoginAttempt, history LoginHistory) Assessment
}
