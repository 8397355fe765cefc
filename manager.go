package sessionmanager

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config wires a Manager. Store, Tokens, Secrets and Passwords are required;
// every other dependency has a working default, and the zero value of every
// field is safe: logins are throttled (DefaultThrottleLimits), settings are
// validated (NormalizeSettings) and new passwords follow the policy
// (ValidatePassword). A field set to something replaces its default.
type Config struct {
	Store     Store
	Tokens    AccessTokens
	Secrets   Secrets
	Passwords PasswordHasher
	// Passkeys runs WebAuthn ceremonies (package passkey); nil: no
	// passkeys. The store must also be a PasskeyStore.
	Passkeys PasskeyCeremonies
	// SetupWarnings are what the wiring found cannot work as configured
	// (shown with the configuration warnings).
	SetupWarnings []SetupWarning

	UserAgents UserAgentParser // nil: device "unknown"
	Geo        GeoResolver     // nil: IP only
	Risk       RiskEngine      // nil: no scoring (score 100)
	Alerter    Alerter         // nil: no alerts
	Bus        Bus             // nil: in-process
	Activity   ActivitySink    // nil: the store's TouchSessions
	Failures   Counter         // nil: in-memory counter
	// Replay spends DPoP proofs' jti (a proof is good once). It must fail
	// closed: an error refuses the proof (503), so never give it a counter
	// that falls back to a per-instance count. nil: a bounded in-memory
	// store of its own when Failures is the in-memory counter (refusing
	// new proofs while full), else Failures.
	Replay Counter
	// Proofs checks DPoP proofs (RFC 9449); nil: Tokens, when it is a
	// ProofParser (the token package's Keyring is). Without one, a sign-in
	// with a DPoP proof is refused, never silently left unbound.
	Proofs ProofParser
	// DPoPWindow is how far a DPoP proof's iat may be from now, either way
	// (default DefaultDPoPWindow).
	DPoPWindow time.Duration
	Clock      Clock        // nil: SystemClock
	Logger     *slog.Logger // nil: slog.Default()
	Metrics    Metrics      // nil: no metrics
	// Allows is the licence gate: features named Feature* ask it. nil allows all.
	Allows func(feature string) bool
	// Unlocks names the edition that unlocks a feature ("advanced"), for
	// the feature_locked refusals; nil leaves the edition out.
	Unlocks func(feature string) string
	// AlertRules are the alert rules and their deliveries (package alert);
	// the front ends reach them through Manager.AlertRules. nil: none.
	AlertRules AlertRules
	// License is the licence key admin (package license); the front ends
	// reach it through Manager.LicenseAdmin. nil: no licence admin.
	License LicenseAdmin
	// ValidateSettings normalises a settings document and names each bad
	// field. nil applies NormalizeSettings and, when Risk is a
	// SettingsChecker, the engine's own checks.
	ValidateSettings func(*Settings) map[string]string

	AccessTokenTTL    time.Duration // 15m
	RefreshGrace      time.Duration // 10s
	LastSeenInterval  time.Duration // 30s
	InactivityTimeout time.Duration // 15m
	IdleTimeout       time.Duration // 0 = off
	MaxSessionAge     time.Duration // 720h
	Retention         time.Duration // 720h
	// AuditCheckpoints tunes the signed checkpoints of the audit chain
	// (Signer is the Secrets; defaults: every 1000 events or 1h).
	AuditCheckpoints ChainSigning
	// AdminSessionTTL is the absolute lifetime of a dashboard sign-in (8h).
	AdminSessionTTL time.Duration
	// AdminIdleTimeout ends a dashboard session unused this long (30m;
	// negative: never).
	AdminIdleTimeout time.Duration
	// StateCacheTTL bounds how stale a cached session state may be if a bus
	// message is lost (default 2s).
	StateCacheTTL time.Duration
	// InstanceID names this instance on the bus (random by default).
	InstanceID string
	// Throttle decides the progressive delay and refusal of logins from the
	// failed-login counts of the account and the IP (counted in Failures);
	// nil applies DefaultThrottleLimits. NoThrottle turns it off.
	Throttle ThrottleFunc
	// AdminThrottle is Throttle for the dashboard's admin sign-in; nil
	// applies AdminThrottleLimits.
	AdminThrottle ThrottleFunc
	// ValidatePassword checks a new password against the policy; nil
	// applies the package's ValidatePassword (8 to 128 characters).
	ValidatePassword func(password string) error
	// Leader runs fn only on the instance that holds the job's leadership;
	// nil runs it here (single instance).
	Leader func(ctx context.Context, job string, fn func(ctx context.Context) error)
	// KickOutbox is called after deliveries were written, to wake the worker.
	KickOutbox func()
	// Availability reports how far the shared state (the bus, Redis) can be
	// trusted right now; nil: always Available.
	Availability func() Availability
	// SharedStatus describes the shared link (bus, Redis mode, health) for
	// /readyz and the dashboard; nil: the local bus of a single instance.
	SharedStatus func() SharedStatus
	// OnSettings is called with the settings whenever they are (re)loaded.
	OnSettings func(*Settings)
	// RegisterPerIP caps sign-ups from one IP (an IPv6 /64) per failed-login
	// window; each costs a password hash. 0: DefaultRegisterPerIP;
	// negative: no cap.
	RegisterPerIP int
	// Accounts are the rules of confirmation and password-reset emails.
	Accounts AccountOptions
	// AdminInvites sends the team's invitation emails; nil: no invitations.
	AdminInvites AdminInviteMailer
	// PurgeHour is the UTC hour from which the nightly purge runs (nil: 3).
	PurgeHour *int
	// TOTPIssuer names the service in end users' authenticator apps
	// (the otpauth:// URI's issuer); "": DefaultTOTPIssuer.
	TOTPIssuer string
	// TrustedDeviceTTL is how long a remembered device stays trusted
	// (0: DefaultTrustedDeviceTTL, 30 days).
	TrustedDeviceTTL time.Duration
	// FactorAdmins are more factor stores an admin can see and reset
	// through UserSecurity, beside the registered factors that have an
	// admin side (webauthn, totp, recovery_code: always included).
	FactorAdmins []FactorAdmin
	// Factors answer login challenges (TOTP, WebAuthn: their packages);
	// Manager.RegisterFactor adds more. The email code factor is built in
	// and offered when ChallengeMailer is set.
	Factors []Factor
	// ChallengeMailer sends challenge codes by email; nil: no email factor.
	ChallengeMailer ChallengeMailer
	// ChallengeMail caps code emails per account and address (PerEmail)
	// and per client IP (PerIP) (defaults 5 and 20 per 15m).
	ChallengeMail MailLimits
}

// Availability is the Manager's mode while shared state may be lost.
type Availability int

// Availability modes.
const (
	// Available: the bus keeps the caches fresh.
	Available Availability = iota
	// Degraded is the fail-open mode while the bus (Redis) is down: every
	// request reads its session's state from the store instead of the
	// cache, so another instance's revocation holds at once.
	Degraded
	// Unavailable is the fail-closed mode for when shared state cannot be
	// checked: Authenticate refuses with 503.
	Unavailable
)

// availability is the current mode.
func (m *Manager) availability() Availability {
	if m.cfg.Availability == nil {
		return Available
	}
	return m.cfg.Availability()
}

// Licensed features (see package license).
const (
	FeatureGeo       = "geo"
	FeatureRisk      = "risk"
	FeatureThreat    = "threat"
	FeatureGeofence  = "geofence"
	FeatureBlocking  = "blocking"
	FeatureAlerts    = "alerts"
	FeatureCondition = "custom_conditions"
	// FeatureChallenge is step-up authentication: the challenge action,
	// factors, step-up checks.
	FeatureChallenge = "challenge"
	// FeatureProtect is continuous session protection: live sessions
	// judged on every request and refresh (protect.go).
	FeatureProtect = "session_protection"
)

// Metrics receives the product's counters. Implementations must be cheap.
type Metrics interface {
	Login(method AuthMethod, outcome string)
	SessionEnded(reason EndReason)
	LastSeenFlush(notes int)
}

// ClientInfo is what is known about the client of a request.
type ClientInfo struct {
	IP        netip.Addr
	UserAgent string
	// DeviceID is the client's own name for its device (Strapi 5's
	// deviceId), kept on the session a sign-in opens; see CheckDeviceID.
	DeviceID string
	// DeviceToken is the trusted-device token the client presented (the
	// device cookie or the deviceToken field of a login); never stored or
	// logged.
	DeviceToken string
	// DPoP is the request's DPoP proof (RFC 9449) with the method and URL
	// it must be bound to; zero when the request sent none.
	DPoP ProofInput
}

// ProofInput is a DPoP proof as a request carried it: the DPoP header and
// the request it must sign (htm, htu: absolute URL without query).
type ProofInput struct {
	Proof  string
	Method string
	URL    string
	// Invalid, when not "", is why the request's DPoP header or its
	// proxy's headers cannot be trusted (several DPoP headers, htm/htu
	// sources that disagree): the proof is refused with it.
	Invalid string
	// Scheme is the Authorization scheme the access token came under,
	// "Bearer" or "DPoP" ("" when not known: Check, cookies): a bound
	// token is refused under Bearer, an unbound one under DPoP (RFC 9449
	// §7.1, §7.2).
	Scheme string
}

// Actor is who did something, for the audit log.
type Actor struct {
	Type string // user, admin, system
	// ID is the admin's id (dashboard) or "token:<name>" (API token).
	ID string
	// Email names the acting admin where one is known (dashboard sign-in,
	// or the admin an API token belongs to).
	Email string
	IP    string
	// TokenID is the id of the admin API token acting, if any.
	TokenID string
}

// LoginResult is the answer to a login, registration or refresh.
type LoginResult struct {
	AccessToken  string
	Claims       AccessClaims
	RefreshToken string
	User         *User
	Session      *Session
	// Confirmation, after a sign-up, is the token of its confirmation
	// email (nil when none could be issued). With RequireEmailConfirmation
	// a sign-up has no session: AccessToken, RefreshToken and Session are
	// empty.
	Confirmation *AccountGrant
	// DeviceToken is the trusted-device token of a login that passed a
	// challenge with rememberDevice (shown once; "" otherwise).
	DeviceToken string
}

// Principal is an authenticated request's identity.
type Principal struct {
	UserID string
	// Email is the user's email as of the session's cached state.
	Email     string
	SessionID string
	Claims    AccessClaims
}

// Manager runs the session lifecycle: login pipeline, refresh rotation,
// force logout, activity tracking and the background sweeps.
type Manager struct {
	// verifying is set while an audit verification (a read of the whole
	// log) runs: one at a time per instance, from the API or the dashboard.
	verifying   atomic.Bool
	cfg         Config
	store       Store
	clock       Clock
	log         *slog.Logger
	bus         Bus
	fails       Counter
	replay      Counter
	proofs      ProofParser
	states      *stateCache
	admins      *adminCache
	profiles    *profileCache // usernames for introspection (profilecache.go)
	adminTokens *adminTokenCache
	seen        *activity
	protect     protection
	settings    atomic.Pointer[Settings]
	settingsMu  sync.Mutex
	unsub       func()
	dummyOnce   sync.Once
	dummyHash   string
	// retries are the audit events that wait for a Flush to write them.
	retries auditRetries
	// proxyWarn counts X-Forwarded-For headers from untrusted peers.
	proxyWarn untrustedProxy
	// factors answer login challenges, by method.
	factors factorSet
}

func (m *Manager) allows(feature string) bool {
	return m.cfg.Allows == nil || m.cfg.Allows(feature)
}

// newID returns a random 160-bit id in lower-case base32 (32 characters).
func newID() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// NewID returns a fresh random identifier (160 bits).
func NewID() string { return newID() }
