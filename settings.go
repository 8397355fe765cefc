package sessionmanager

import (
	"encoding/json"
	"time"
)

// SettingsKey is the store key of the Settings document.
const SettingsKey = "settings"

// Duration is a time.Duration that reads and writes as a Go duration string.
type Duration time.Duration

// MarshalJSON writes d as "15m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// String is the Go duration string ("15m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalJSON reads a Go duration string ("15m") or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return Errorf(EINVALID, "a duration is a string like \"15m\" or a number of seconds")
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Errorf(EINVALID, "%q is not a duration like \"15m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Actions says what to do for each policy condition.
type Actions struct {
	VPN        Action `json:"vpn"`
	Proxy      Action `json:"proxy"`
	Tor        Action `json:"tor"`
	Datacenter Action `json:"datacenter"`
	Threat     Action `json:"threat"`
	Geofence   Action `json:"geofence"`
	LowScore   Action `json:"lowScore"`
	// NewCountry and NewDevice act on the new_country and new_device
	// signals themselves (default allow: they only lower the score and
	// fire their alert triggers).
	NewCountry Action `json:"newCountry"`
	NewDevice  Action `json:"newDevice"`
}

// Settings is the runtime policy document, kept in the store and read by
// every instance; a change applies to the next login.
type Settings struct {
	AllowedCountries []string `json:"allowedCountries"`
	BlockedCountries []string `json:"blockedCountries"`
	ScoreThreshold   int      `json:"scoreThreshold"`
	// GeoLookupFailure is "allow" or "block".
	GeoLookupFailure string  `json:"geoLookupFailure"`
	Actions          Actions `json:"actions"`
	// Weights overrides the default weight of a reason code.
	Weights map[string]int `json:"weights"`
	// ImpossibleTravelKMH is the speed above which travel is impossible.
	ImpossibleTravelKMH float64 `json:"impossibleTravelKmh"`
	// TravelMinDistanceKM is the distance floor below which travel never fires.
	TravelMinDistanceKM float64 `json:"travelMinDistanceKm"`
	// FailedLoginWindow is the window failed logins are counted in.
	FailedLoginWindow Duration `json:"failedLoginWindow"`
	// FailedLoginsAccount/IP: from this count on, the failed-logins signal fires.
	FailedLoginsAccount int `json:"failedLoginsAccount"`
	FailedLoginsIP      int `json:"failedLoginsIp"`
	// MaxSessionsPerUser caps concurrent sessions (0 = no cap); the oldest is evicted.
	MaxSessionsPerUser int `json:"maxSessionsPerUser"`
	// NewSignInEmail sends users a "new sign-in to your account" email.
	NewSignInEmail bool `json:"newSignInEmail"`
	// RequireEmailConfirmation refuses password logins (and sessions at
	// sign-up) until the account's email is proven (Strapi's
	// email_confirmation). Needs the confirmation email configured.
	RequireEmailConfirmation bool `json:"requireEmailConfirmation"`
	// ChallengeFallback decides a challenged login of a user with no
	// factor to answer it: "block" (reason challenge_unavailable) or
	// "alert" (the login goes on as an alert).
	ChallengeFallback string `json:"challengeFallback"`
	// SessionActions is session protection's policy: what each session-time
	// signal does (allow, alert, challenge, terminate). Advanced edition.
	SessionActions SessionActions `json:"sessionActions"`
	// RefreshAnomalyPerMinute: refresh_anomaly fires on a refresh that
	// makes more than this many refreshes of one session in the current
	// minute, itself included (default 6: the 7th and later; 0 turns it off).
	RefreshAnomalyPerMinute int `json:"refreshAnomalyPerMinute"`

	// The session timeouts, each overriding its environment variable
	// (SM_INACTIVITY_TIMEOUT, SM_IDLE_TIMEOUT, SM_MAX_SESSION_AGE,
	// SM_RETENTION) while set; null keeps the environment's value.
	// Manager.SessionTimeouts says which is in force and from where.
	InactivityTimeout *Duration `json:"inactivityTimeout"`
	// IdleTimeout "0s" turns the idle end off.
	IdleTimeout   *Duration `json:"idleTimeout"`
	MaxSessionAge *Duration `json:"maxSessionAge"`
	Retention     *Duration `json:"retention"`
}

// DefaultSettings returns the documented defaults.
func DefaultSettings() *Settings {
	return &Settings{
		AllowedCountries:    []string{},
		BlockedCountries:    []string{},
		ScoreThreshold:      40,
		GeoLookupFailure:    "allow",
		Actions:             Actions{VPN: ActionAlert, Proxy: ActionAlert, Tor: ActionBlock, Datacenter: ActionAllow, Threat: ActionBlock, Geofence: ActionBlock, LowScore: ActionAlert, NewCountry: ActionAllow, NewDevice: ActionAllow},
		Weights:             map[string]int{},
		ImpossibleTravelKMH: 1000,
		TravelMinDistanceKM: 300,
		FailedLoginWindow:   Duration(15 * time.Minute),
		FailedLoginsAccount: 5,
		FailedLoginsIP:      20,
		ChallengeFallback:   ChallengeFallbackBlock,
		SessionActions:      DefaultSessionActions,
		// An access token lives 15 minutes by default: a client refreshes
		// about once per lifetime (a retry in the grace window twice), so
		// more than six in one minute is a loop or two holders of one token.
		RefreshAnomalyPerMinute: 6,
	}
}
