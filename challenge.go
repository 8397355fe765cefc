package sessionmanager

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Challenge methods: the factors a challenged login may be finished with
// (POST /api/auth/challenge/verify, "method"). Offered methods are listed
// strongest first: webauthn > totp > email. recovery_code is accepted
// wherever totp is offered and never listed on its own.
const (
	MethodWebAuthn     = "webauthn"
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
	MethodEmail        = "email"
)

// methodRank orders the offered methods, strongest first.
var methodRank = []string{MethodWebAuthn, MethodTOTP, MethodEmail}

// Authentication method references (RFC 8176) recorded on sessions and in
// access tokens (amr). AMREmail is not registered: the sign-in link proved
// the mailbox.
const (
	AMRPassword    = "pwd"
	AMROTP         = "otp"
	AMRMFA         = "mfa"
	AMRHardwareKey = "hwk"
	AMRSoftwareKey = "swk"
	AMRUser        = "user"
	AMREmail       = "email"
)

// Authentication context classes (acr) of sessions and access tokens.
const (
	// ACRSingle: one factor (a password, a sign-in link, an external system).
	ACRSingle = "1"
	// ACRMultiFactor: a second factor of another kind passed, or a passkey.
	ACRMultiFactor = "2"
)

// AuthContext says how and when the user of a session last proved who
// they are: auth_time, amr and acr of the access token (OpenID Connect).
type AuthContext struct {
	AuthTime time.Time `json:"authTime,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
}

// ReasonStepUpRequired is the reason of a refusal that needs a fresher or
// stronger proof of the user (RFC 9470's insufficient_user_authentication).
const ReasonStepUpRequired = "step_up_required"

// RecentAuth reports whether a proves the user within maxAge before now
// (maxAge <= 0: any age) with at least the class minACR ("" or "1": any).
func RecentAuth(a AuthContext, now time.Time, maxAge time.Duration, minACR string) bool {
	if a.AuthTime.IsZero() {
		return false
	}
	if maxAge > 0 && now.Sub(a.AuthTime) > maxAge {
		return false
	}
	return minACR == "" || a.ACR >= minACR
}

// StepUpRequired is the 401 that asks for a fresher or stronger proof:
// reason step_up_required with maxAge (seconds) and acrValues in the
// details; WriteError adds RFC 9470's WWW-Authenticate challenge.
func StepUpRequired(maxAge time.Duration, minACR string) *Error {
	d := map[string]string{}
	if maxAge > 0 {
		d["maxAge"] = strconv.Itoa(int(maxAge / time.Second))
	}
	if minACR != "" {
		d["acrValues"] = minACR
	}
	return &Error{Code: EUNAUTHORIZED, Message: "A recent verification of the user is required", Reason: ReasonStepUpRequired, Details: d}
}

// Challenge is a pending proof a login must give before its session is
// created. Its id is a random secret held only by the client: the store
// keeps its keyed hash. It is bound to the attempt (user, IP, user agent,
// the risk facts), single-use, short-lived, and ends after
// MaxChallengeAttempts wrong proofs.
type Challenge struct {
	// ID is the secret id, in clear only when the challenge is created.
	ID   string `json:"-"`
	Hash []byte `json:"-"`
	// UserID is the user the first factor identified.
	UserID string `json:"userId"`
	// FirstFactor is how the user was identified (password, magic_link,
	// external): the session's AuthMethod once the challenge passes.
	FirstFactor AuthMethod `json:"firstFactor"`
	// Methods are the factors offered, strongest first.
	Methods   []string   `json:"methods"`
	IP        netip.Addr `json:"ip"`
	UserAgent string     `json:"userAgent"`
	// Facts are the attempt as the policy judged it, kept so the session
	// opened after the proof records what was decided.
	Facts     ChallengeFacts `json:"facts"`
	CreatedAt time.Time      `json:"createdAt"`
	ExpiresAt time.Time      `json:"expiresAt"`
	// Attempts counts the proofs tried (reserved before each is checked).
	Attempts int `json:"attempts"`
	// Outcome is "" while pending, then passed or failed.
	Outcome string    `json:"outcome,omitempty"`
	EndedAt time.Time `json:"endedAt,omitzero"`
	// CodeHash is the keyed hash of the current email code (bound to the
	// challenge); CodeExpiresAt its expiry.
	CodeHash      []byte    `json:"-"`
	CodeExpiresAt time.Time `json:"-"`
	// SessionID, for a step-up (POST /api/auth/step-up), is the live
	// session the proof raises; "" for the challenge of a login. Each kind
	// is answered only at its own route.
	SessionID string `json:"sessionId,omitempty"`
	// FactorState is what a factor keeps between handing out its options
	// and checking the proof (a WebAuthn session), sealed by the factor if
	// it is secret.
	FactorState []byte `json:"-"`
}

// Challenge outcomes.
const (
	ChallengePassed = "passed"
	ChallengeFailed = "failed"
)

// ChallengeFacts are the risk facts of a challenged attempt.
type ChallengeFacts struct {
	Device     Device     `json:"device"`
	Location   Location   `json:"location"`
	Threat     Threat     `json:"threat"`
	Assessment Assessment `json:"assessment"`
	// PasswordStamp is a keyed digest of the password hash a password
	// login checked: a password changed (reset, voided) before the proof
	// ends the challenge instead of letting the old password's login in.
	PasswordStamp string `json:"passwordStamp,omitempty"`
	// DeviceID is the client's name for its device sent with the login
	// (Strapi's deviceId), kept for the session the proof opens.
	DeviceID string `json:"deviceId,omitempty"`
	// User is the challenged user as alerts name them, and Previous the
	// session before the attempt (what the login read): the alerts of a
	// proof, wrong or right, need no store read for them.
	User     ChallengeUser  `json:"user,omitzero"`
	Previous *PreviousLogin `json:"previous,omitempty"`
}

// ChallengeUser is the challenged user as alerts name them.
type ChallengeUser struct {
	Email    string `json:"email,omitempty"`
	Username string `json:"username,omitempty"`
}

// PreviousLogin is what alerts say of the user's session before a
// challenged attempt.
type PreviousLogin struct {
	ID         string     `json:"id"`
	IP         netip.Addr `json:"ip"`
	AuthMethod AuthMethod `json:"authMethod"`
	Device     Device     `json:"device"`
	Location   Location   `json:"location"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// previousLogin keeps of s what alerts say of it (nil for nil).
func previousLogin(s *Session) *PreviousLogin {
	if s == nil {
		return nil
	}
	return &PreviousLogin{ID: s.ID, IP: s.IP, AuthMethod: s.AuthMethod, Device: s.Device, Location: s.Location, CreatedAt: s.CreatedAt}
}

// session is the previous login as the alert input's Previous.
func (p *PreviousLogin) session() *Session {
	if p == nil {
		return nil
	}
	return &Session{ID: p.ID, IP: p.IP, AuthMethod: p.AuthMethod, Device: p.Device, Location: p.Location, CreatedAt: p.CreatedAt}
}

// alertUser is the challenged user for an alert: the one the challenge
// names, without reading the store (only a challenge of an older shape,
// without the user's names, is read).
func (m *Manager) alertUser(ctx context.Context, ch *Challenge) *User {
	if ch.Facts.User == (ChallengeUser{}) {
		u, _ := m.store.UserByID(ctx, ch.UserID)
		return u
	}
	return &User{ID: ch.UserID, Email: ch.Facts.User.Email, Username: ch.Facts.User.Username}
}

// ClosedReason says why the challenge takes no proof at now with max
// proofs ("" while it is open): challenge_used, challenge_failed or
// challenge_expired. The stores and the core answer with it.
func (c *Challenge) ClosedReason(now time.Time, max int) string {
	switch {
	case c.Outcome == ChallengePassed:
		return ReasonChallengeUsed
	case c.Outcome == ChallengeFailed || c.Attempts >= max:
		return ReasonChallengeFailed
	case !now.Before(c.ExpiresAt):
		return ReasonChallengeExpired
	}
	return ""
}

// Offers reports whether method may answer the challenge (recovery_code
// wherever totp is offered).
func (c *Challenge) Offers(method string) bool {
	if method == MethodRecoveryCode {
		method = MethodTOTP
	}
	return slices.Contains(c.Methods, method)
}

// Challenge limits.
const (
	// ChallengeTTL is how long a challenge may be answered.
	ChallengeTTL = 10 * time.Minute
	// EmailCodeTTL is how long an emailed code is valid (within the
	// challenge's own life).
	EmailCodeTTL = 10 * time.Minute
	// MaxChallengeAttempts wrong proofs end a challenge.
	MaxChallengeAttempts = 5
)

// ChallengeStore keeps pending challenges by the keyed hash of their id.
// Atomicity lives in the store's SQL.
type ChallengeStore interface {
	CreateChallenge(ctx context.Context, c *Challenge) error
	// ChallengeByHash returns the challenge in any state, or ENOTFOUND.
	ChallengeByHash(ctx context.Context, hash []byte) (*Challenge, error)
	// ReserveChallengeAttempt counts one proof against the challenge if it
	// is open at now (no outcome, not expired, fewer than max attempts)
	// and returns it as counted; of concurrent calls at most max-attempts
	// succeed. Otherwise EINVALID with reason challenge_unknown,
	// challenge_expired, challenge_used or challenge_failed.
	ReserveChallengeAttempt(ctx context.Context, hash []byte, now time.Time, max int) (*Challenge, error)
	// EndChallenge sets the outcome if there is none yet; ended=false
	// when another call ended it first (of concurrent calls exactly one
	// ends it).
	EndChallenge(ctx context.Context, hash []byte, outcome string, at time.Time) (ended bool, err error)
	// SetChallengeCode replaces the email code of an open challenge.
	SetChallengeCode(ctx context.Context, hash, codeHash []byte, expiresAt time.Time) error
	// SetChallengeState replaces the factor state of an open challenge.
	SetChallengeState(ctx context.Context, hash, state []byte) error
	// PurgeChallenges deletes challenges that expired before the time.
	PurgeChallenges(ctx context.Context, expiredBefore time.Time) (int, error)
}

// SessionAuthStore records a newer proof of a live session's user (a
// step-up); ENOTFOUND when the session is missing or ended.
type SessionAuthStore interface {
	SetSessionAuth(ctx context.Context, id string, a AuthContext) error
}

// Proof is what a client sent to answer a challenge.
type Proof struct {
	Method string
	// Code is a one-time code (email, totp, recovery_code).
	Code string
	// Credential is a WebAuthn PublicKeyCredential (JSON).
	Credential json.RawMessage
	Client     ClientInfo
}

// Factor is one way to answer a challenge. The root package brings the
// email code (Config.ChallengeMailer); adapters register the others
// (Config.Factors or Manager.RegisterFactor) without the root importing
// them.
type Factor interface {
	// Method is the method name (MethodTOTP...).
	Method() string
	// Offered reports whether u can answer with this factor.
	Offered(ctx context.Context, u *User) (bool, error)
	// Verify checks the proof: nil when it proves the user, an *Error
	// (EINVALID, reason invalid_code or the factor's own) when not.
	Verify(ctx context.Context, c *Challenge, p Proof) error
}

// FactorAMR is an optional Factor ability: the amr values a passed proof
// adds to the session (default: otp for codes, hwk for webauthn).
type FactorAMR interface {
	AMR(c *Challenge, p Proof) []string
}

// ChallengeRequired is the pending challenge a 401 challenge_required
// answer carries in details.challenge.
type ChallengeRequired struct {
	ID        string    `json:"id"`
	Methods   []string  `json:"methods"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Reasons of challenge answers.
const (
	ReasonChallengeRequired    = "challenge_required"
	ReasonChallengeUnavailable = "challenge_unavailable"
	ReasonChallengeUnknown     = "challenge_unknown"
	ReasonChallengeExpired     = "challenge_expired"
	ReasonChallengeUsed        = "challenge_used"
	ReasonChallengeFailed      = "challenge_failed"
	ReasonChallengeMismatch    = "challenge_client_mismatch"
	ReasonMethodNotOffered     = "method_not_offered"
	ReasonInvalidCode          = "invalid_code"
)

// ChallengeError is the EINVALID answer about a challenge that cannot be
// used (unknown, expired, used, failed), for the stores and the core.
func ChallengeError(reason string) *Error {
	msg := map[string]string{
		ReasonChallengeUnknown: "This verification is not valid; sign in again",
		ReasonChallengeExpired: "This verification has expired; sign in again",
		ReasonChallengeUsed:    "This verification was already completed",
		ReasonChallengeFailed:  "Too many wrong codes; sign in again",
	}[reason]
	if msg == "" {
		msg = "This verification cannot be used"
	}
	return &Error{Code: EINVALID, Message: msg, Reason: reason}
}

// JoinAMR is the stored form of amr values: space-separated (RFC 8176
// values are single tokens). SplitAMR reads it back ("" is none).
func JoinAMR(amr []string) string { return strings.Join(amr, " ") }

// SplitAMR reads amr values stored by JoinAMR.
func SplitAMR(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
