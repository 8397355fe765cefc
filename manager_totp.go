package sessionmanager

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// End users' TOTP and recovery codes (issue 17): enrolled and removed by
// the user (self-service, a recent strong login required), checked as the
// challenge methods totp and recovery_code (totpFactor, recoveryCodeFactor)
// and by a step-up of the current session (StepUp).

// Events of a user's second factors.
const (
	EventFactorAdded              = "user.factor_added"
	EventFactorRemoved            = "user.factor_removed"
	EventRecoveryCodesRegenerated = "user.recovery_codes_regenerated"
)

// EndFactorChanged ends a user's other sessions when a second factor (TOTP,
// a passkey) is enrolled or removed. Regenerating the recovery codes only
// voids the old codes: it is audited, and ends no session.
const EndFactorChanged EndReason = "factor_changed"

const (
	// RecoveryCodeCount is how many recovery codes a user gets at a time.
	RecoveryCodeCount = 10
	// TOTPEnrolTTL is how long a new TOTP secret waits for its first code.
	TOTPEnrolTTL = 10 * time.Minute
	// FactorChangeMaxAge is how recent the login that enrols or removes a
	// factor must be (auth_time of the access token).
	FactorChangeMaxAge = 10 * time.Minute
	// DefaultTOTPIssuer names the service in authenticator apps.
	DefaultTOTPIssuer = "Magic Session Manager"
)

// userTOTPAdditionalData binds a user's sealed TOTP secret to the user: a
// sealed secret copied to another user's row does not open.
func userTOTPAdditionalData(userID string) []byte { return []byte("sm-user-totp/v1:" + userID) }

// totpSubject names a user's codes in the shared used-step counter.
func totpSubject(userID string) string { return "user:" + userID }

// TOTPEnrolment is a new TOTP secret, shown once, for the user's
// authenticator app: until a code of it is confirmed the old one (if any)
// stays in force.
type TOTPEnrolment struct {
	Secret    string    `json:"secret"`
	URI       string    `json:"otpauthUri"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// UserFactors lists a user's ways to prove who they are.
type UserFactors struct {
	// Email is true when the account's email is confirmed (email codes).
	Email bool `json:"email"`
	TOTP  bool `json:"totp"`
	// TOTPSince is when the TOTP in force was confirmed.
	TOTPSince time.Time `json:"totpSince,omitzero"`
	// Passkeys counts the user's passkeys (0 without a passkey store).
	Passkeys          int `json:"passkeys"`
	RecoveryCodesLeft int `json:"recoveryCodesLeft"`
}

// PasskeyCounter is the optional store role that counts a user's passkeys
// (package passkey's store); UserFactors asks it when the store has it.
type PasskeyCounter interface {
	CountPasskeys(ctx context.Context, userID string) (int, error)
}

func (m *Manager) totpStore() (TOTPStore, error) {
	st, ok := m.store.(TOTPStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no TOTP secrets")
	}
	return st, nil
}

// UserFactors returns the user's own view of their factors
// (GET /api/users/me/factors); admins see and reset factors through
// UserSecurity (the FactorAdmin sides of the registered factors).
func (m *Manager) UserFactors(ctx context.Context, userID string) (*UserFactors, error) {
	u, err := m.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	st, err := m.totpStore()
	if err != nil {
		return nil, err
	}
	f := &UserFactors{Email: u.Confirmed && u.Email != ""}
	t, err := userTOTP(ctx, st, userID)
	if err != nil {
		return nil, err
	}
	if t.Active() {
		f.TOTP, f.TOTPSince = true, t.ConfirmedAt
	}
	if f.RecoveryCodesLeft, err = st.RecoveryCodesLeft(ctx, userID); err != nil {
		return nil, err
	}
	if pc, ok := m.store.(PasskeyCounter); ok {
		if f.Passkeys, err = pc.CountPasskeys(ctx, userID); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// requireFactorChange refuses to enrol or remove a factor (TOTP, a
// passkey, the recovery codes) unless the session proved its user within
// FactorChangeMaxAge (a login or a step-up, as the store records it, so a
// step-up counts at once) and, when the user already has a strong factor
// (any offered method but the email code), with a multi-factor proof (acr
// 2): a stolen password alone must not add a way in or remove the second
// factor. 401 step_up_required with RFC 9470's challenge.
func (m *Manager) requireFactorChange(ctx context.Context, p Principal) error {
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	// A reported account changes no factor until its password is reset: a
	// session the owner did not end may be the thief's.
	if err := resetPending(u); err != nil {
		return err
	}
	methods, err := m.offeredMethods(ctx, u, AuthPassword)
	if err != nil {
		return err
	}
	acr := ACRSingle
	for _, method := range methods {
		if method != MethodEmail {
			acr = ACRMultiFactor
		}
	}
	return m.RequireRecentAuth(ctx, p.SessionID, FactorChangeMaxAge, acr)
}

// BeginTOTP makes a new TOTP secret for the user and keeps it, sealed, until
// ConfirmTOTP sees one of its codes. The secret is in the answer only.
func (m *Manager) BeginTOTP(ctx context.Context, p Principal) (*TOTPEnrolment, error) {
	// Enrolling is licensed with the challenges (Advanced); a user keeps
	// the right to see, use up and remove what was enrolled.
	if err := m.RequireFeature(FeatureChallenge, "TOTP"); err != nil {
		return nil, err
	}
	if err := m.requireFactorChange(ctx, p); err != nil {
		return nil, err
	}
	st, err := m.totpStore()
	if err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	secret := NewTOTPSecret()
	sealed, err := sealTOTP(m.cfg.Secrets, secret, userTOTPAdditionalData(u.ID))
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	if err := st.SetPendingTOTP(ctx, u.ID, sealed, now); err != nil {
		return nil, err
	}
	account := u.Email
	if account == "" {
		account = u.Username
	}
	return &TOTPEnrolment{Secret: secret, URI: TOTPURI(m.cfg.TOTPIssuer, account, secret), ExpiresAt: now.Add(TOTPEnrolTTL)}, nil
}

// ConfirmTOTP puts the pending secret in force once code is one of its
// codes, ends the user's other sessions and, when the user has no recovery
// codes left, returns a fresh set (shown once).
func (m *Manager) ConfirmTOTP(ctx context.Context, p Principal, code string, actor Actor) (recoveryCodes []string, err error) {
	if err := checkTexts("code", code); err != nil {
		return nil, err
	}
	if err := m.requireFactorChange(ctx, p); err != nil {
		return nil, err
	}
	st, err := m.totpStore()
	if err != nil {
		return nil, err
	}
	t, err := userTOTP(ctx, st, p.UserID)
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	if t == nil || len(t.PendingSealed) == 0 || now.Sub(t.PendingAt) >= TOTPEnrolTTL {
		return nil, &Error{Code: EINVALID, Message: "No TOTP enrolment is pending; start again", Reason: "totp_not_pending"}
	}
	// A wrong code costs an attempt of the account, as a wrong password
	// does: the enrolment must not be a free oracle for a stolen token.
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, failKeyAccount(p.UserID), "")
	if err != nil {
		return nil, err
	}
	ok, err := m.useTOTP(ctx, totpSubject(p.UserID), t.PendingSealed, userTOTPAdditionalData(p.UserID), code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidCode()
	}
	try.succeeded(ctx)
	if err := st.ConfirmTOTP(ctx, p.UserID, t.PendingSealed, now); err != nil {
		return nil, err
	}
	left, err := st.RecoveryCodesLeft(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if left == 0 {
		if recoveryCodes, err = m.replaceRecoveryCodes(ctx, st, p.UserID, now); err != nil {
			return nil, err
		}
	}
	if err := m.factorChanged(ctx, p, actor, EventFactorAdded, MethodTOTP); err != nil {
		return nil, err
	}
	return recoveryCodes, nil
}

// RemoveTOTP turns the user's TOTP off, with its recovery codes (they back
// up the TOTP), and ends the user's other sessions. ENOTFOUND when the user
// has no TOTP.
func (m *Manager) RemoveTOTP(ctx context.Context, p Principal, actor Actor) error {
	if err := m.requireFactorChange(ctx, p); err != nil {
		return err
	}
	if err := m.deleteTOTP(ctx, p.UserID); err != nil {
		return err
	}
	return m.factorChanged(ctx, p, actor, EventFactorRemoved, MethodTOTP)
}

func (m *Manager) deleteTOTP(ctx context.Context, userID string) error {
	st, err := m.totpStore()
	if err != nil {
		return err
	}
	removed, err := st.DeleteUserTOTP(ctx, userID)
	if err != nil {
		return err
	}
	if err := st.ReplaceRecoveryCodes(ctx, userID, nil, m.clock.Now()); err != nil {
		return err
	}
	if !removed {
		return Errorf(ENOTFOUND, "TOTP is not enabled")
	}
	return nil
}

// RegenerateRecoveryCodes replaces every recovery code of the user with
// RecoveryCodeCount fresh ones, returned once. The user must have TOTP on.
func (m *Manager) RegenerateRecoveryCodes(ctx context.Context, p Principal, actor Actor) ([]string, error) {
	if err := m.requireFactorChange(ctx, p); err != nil {
		return nil, err
	}
	st, err := m.totpStore()
	if err != nil {
		return nil, err
	}
	if t, err := userTOTP(ctx, st, p.UserID); err != nil {
		return nil, err
	} else if !t.Active() {
		return nil, &Error{Code: EINVALID, Message: "Recovery codes back up TOTP; enable TOTP first", Reason: "totp_not_enabled"}
	}
	codes, err := m.replaceRecoveryCodes(ctx, st, p.UserID, m.clock.Now())
	if err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventRecoveryCodesRegenerated, ActorType: actor.Type, ActorID: actor.ID, UserID: p.UserID, SessionID: p.SessionID, IP: actor.IP}, nil)
	return codes, nil
}

// factorChanged records the change and ends the user's other sessions:
// whoever held one may have seen the old factors.
func (m *Manager) factorChanged(ctx context.Context, p Principal, actor Actor, event, method string) error {
	m.audit(ctx, &Event{Type: event, ActorType: actor.Type, ActorID: actor.ID, UserID: p.UserID, SessionID: p.SessionID, IP: actor.IP,
		Data: jsonObject("method", method)}, nil)
	_, err := m.EndUserSessions(ctx, p.UserID, EndFactorChanged, actor, p.SessionID)
	return err
}

// recoveryEncoding spells recovery codes: lower-case base32 without the
// characters easily misread (no 0, 1, l or o).
var recoveryEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newRecoveryCode is 50 random bits as "xxxxx-xxxxx".
func newRecoveryCode() string {
	var b [7]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := recoveryEncoding.EncodeToString(b[:])[:10]
	return s[:5] + "-" + s[5:]
}

// The domains of recovery-code hashes: a user's and an admin's codes are
// hashed alike under their own prefix (the stored hashes depend on it).
const (
	userRecoveryDomain  = "recovery-code:"
	adminRecoveryDomain = "sm-admin-recovery/v1:"
)

// recoveryHash is the keyed hash a recovery code is stored as, bound to its
// owner (a user or an admin, by domain); the code is compared without case,
// spaces or dashes. The one hash of both kinds of recovery code.
func (m *Manager) recoveryHash(domain, ownerID, code string) []byte {
	code = strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))
	return m.cfg.Secrets.LookupHash(domain + ownerID + ":" + code)
}

// recoveryCodeHash is a user's recovery-code hash.
func (m *Manager) recoveryCodeHash(userID, code string) []byte {
	return m.recoveryHash(userRecoveryDomain, userID, code)
}

// newRecoveryCodes draws n codes for ownerID and their hashes under
// domain: the one generation of both kinds of recovery code.
func (m *Manager) newRecoveryCodes(domain, ownerID string, n int) ([]string, [][]byte) {
	codes := make([]string, n)
	hashes := make([][]byte, n)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = m.recoveryHash(domain, ownerID, codes[i])
	}
	return codes, hashes
}

func (m *Manager) replaceRecoveryCodes(ctx context.Context, st TOTPStore, userID string, now time.Time) ([]string, error) {
	codes, hashes := m.newRecoveryCodes(userRecoveryDomain, userID, RecoveryCodeCount)
	if err := st.ReplaceRecoveryCodes(ctx, userID, hashes, now); err != nil {
		return nil, err
	}
	return codes, nil
}

// invalidCode is the refusal of a wrong, used or unknown one-time code.
func invalidCode() *Error {
	return &Error{Code: EINVALID, Message: "The code is not valid", Reason: ReasonInvalidCode, Fields: map[string]string{"code": "is not valid"}}
}

// userTOTP is the user's enrolment, nil when there is none.
func userTOTP(ctx context.Context, st TOTPStore, userID string) (*UserTOTP, error) {
	t, err := st.UserTOTP(ctx, userID)
	if IsNotFound(err) {
		return nil, nil
	}
	return t, err
}

// totpFactor is the challenge method totp: a code of the user's
// authenticator app, each time step used once across instances.
type totpFactor struct {
	m  *Manager
	st TOTPStore
}

func (totpFactor) Method() string { return MethodTOTP }

func (f totpFactor) Offered(ctx context.Context, u *User) (bool, error) {
	t, err := userTOTP(ctx, f.st, u.ID)
	return t.Active(), err
}

func (f totpFactor) Verify(ctx context.Context, c *Challenge, p Proof) error {
	t, err := userTOTP(ctx, f.st, c.UserID)
	if err != nil {
		return err
	}
	if !t.Active() {
		return invalidCode()
	}
	ok, err := f.m.useTOTP(ctx, totpSubject(c.UserID), t.Sealed, userTOTPAdditionalData(c.UserID), p.Code)
	if err != nil {
		return err
	}
	if !ok {
		return invalidCode()
	}
	return nil
}

// CountFactors is 1 when the user has TOTP in force (the admin's view).
func (f totpFactor) CountFactors(ctx context.Context, userID string) (int, error) {
	t, err := userTOTP(ctx, f.st, userID)
	if err != nil || !t.Active() {
		return 0, err
	}
	return 1, nil
}

// ResetFactors removes the user's TOTP, a pending enrolment too, and the
// recovery codes that back it up (an admin's reset; the caller audits).
func (f totpFactor) ResetFactors(ctx context.Context, userID string) (int, error) {
	n, err := f.CountFactors(ctx, userID)
	if err != nil {
		return 0, err
	}
	if err := f.m.deleteTOTP(ctx, userID); err != nil && !IsNotFound(err) {
		return 0, err
	}
	return n, nil
}

// recoveryCodeFactor is the challenge method recovery_code: one of the
// user's single-use codes, accepted wherever totp is.
type recoveryCodeFactor struct {
	m  *Manager
	st TOTPStore
}

func (recoveryCodeFactor) Method() string { return MethodRecoveryCode }

func (f recoveryCodeFactor) Offered(ctx context.Context, u *User) (bool, error) {
	n, err := f.st.RecoveryCodesLeft(ctx, u.ID)
	return n > 0, err
}

func (f recoveryCodeFactor) Verify(ctx context.Context, c *Challenge, p Proof) error {
	if p.Code == "" || len(p.Code) > 64 {
		return invalidCode()
	}
	err := f.st.UseRecoveryCode(ctx, c.UserID, f.m.recoveryCodeHash(c.UserID, p.Code), f.m.clock.Now())
	if IsNotFound(err) {
		return invalidCode()
	}
	return err
}

// CountFactors is how many unused recovery codes the user has.
func (f recoveryCodeFactor) CountFactors(ctx context.Context, userID string) (int, error) {
	return f.st.RecoveryCodesLeft(ctx, userID)
}

// ResetFactors deletes the user's recovery codes (an admin's reset; the
// caller audits) and says how many unused ones went.
func (f recoveryCodeFactor) ResetFactors(ctx context.Context, userID string) (int, error) {
	n, err := f.CountFactors(ctx, userID)
	if err != nil {
		return 0, err
	}
	return n, f.st.ReplaceRecoveryCodes(ctx, userID, nil, f.m.clock.Now())
}

// registerTOTPFactors registers totp and recovery_code when the store keeps
// TOTP secrets.
func (m *Manager) registerTOTPFactors() {
	if st, ok := m.store.(TOTPStore); ok {
		m.RegisterFactor(totpFactor{m: m, st: st})
		m.RegisterFactor(recoveryCodeFactor{m: m, st: st})
	}
}
