package sessionmanager

import (
	"context"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Two-step dashboard sign-in and the admin's own second factor. The
// password step hands the browser a sealed "pending" ticket (the admin's
// id and a deadline, sealed with the encryption key) only when the account
// has TOTP on; the code step opens it and checks a TOTP code or one of the
// admin's recovery codes (stored as keyed hashes, each usable once).

// AdminTwoFactor is the two-step sign-in and an admin's own TOTP.
type AdminTwoFactor interface {
	// BeginAdminSignIn checks email and password: the admin when that is
	// all the account needs, else pending (a ticket for FinishAdminSignIn).
	// EUNAUTHORIZED for every refusal alike.
	BeginAdminSignIn(ctx context.Context, email, password string) (a *Admin, pending string, err error)
	// ReserveAdminSignInCode counts the second step like
	// ReserveAdminSignIn, under the account the ticket names (whatever the
	// form says): the per-account limit holds for the codes too.
	ReserveAdminSignInCode(ctx context.Context, pending string, ip netip.Addr) (*AdminSignIn, error)
	// FinishAdminSignIn checks the second step: a TOTP code (used once on
	// every instance) or an unused recovery code.
	FinishAdminSignIn(ctx context.Context, pending, code string) (*Admin, error)
	// NewAdminTOTP draws a secret for an admin to enrol (nothing is stored
	// until EnableAdminTOTP).
	NewAdminTOTP(ctx context.Context, adminID string) (TOTPEnrolment, error)
	// EnableAdminTOTP turns TOTP on once code proves the app holds secret,
	// ends the admin's other sessions and returns fresh recovery codes
	// (shown once).
	EnableAdminTOTP(ctx context.Context, adminID, secret, code, currentSessionID string) (recoveryCodes []string, err error)
	// DisableAdminTOTP turns TOTP off after checking the password.
	DisableAdminTOTP(ctx context.Context, adminID, password, currentSessionID string) error
}

var _ AdminTwoFactor = (*Manager)(nil)

// RecoveryCodeStore keeps admins' recovery codes as keyed hashes.
type RecoveryCodeStore interface {
	// SetAdminRecoveryCodes replaces the admin's codes (nil removes them).
	SetAdminRecoveryCodes(ctx context.Context, adminID string, hashes [][]byte) error
	// UseAdminRecoveryCode marks an unused code used; of concurrent calls
	// one succeeds, the others (and unknown or used codes) get ENOTFOUND.
	UseAdminRecoveryCode(ctx context.Context, adminID string, hash []byte, at time.Time) error
}

// Actions of the admin's second factor in the audit log.
const (
	ActionAdminTOTPEnabled  = "admin.totp_enabled"
	ActionAdminTOTPDisabled = "admin.totp_disabled"
	ActionAdminRecoveryUsed = "admin.recovery_code_used"
)

// ReasonSignInExpired: the second step came after the first step's ticket
// expired; the sign-in starts again.
const ReasonSignInExpired = "signin_expired"

const (
	pendingSignInTTL   = 5 * time.Minute
	adminRecoveryCodes = 10
	adminTOTPIssuer    = "Session Manager"
)

var pendingAD = []byte("sm-admin-signin-pending/v1")

// BeginAdminSignIn is the password step of a dashboard sign-in.
func (m *Manager) BeginAdminSignIn(ctx context.Context, email, password string) (*Admin, string, error) {
	a, err := m.checkAdminPassword(ctx, email, password)
	if err != nil {
		return nil, "", err
	}
	if !a.TOTP() {
		return a, "", nil
	}
	// The email rides along so the code step counts its attempts under
	// this account without a store read (ReserveAdminSignInCode).
	payload := a.ID + "|" + strconv.FormatInt(m.clock.Now().Add(pendingSignInTTL).Unix(), 10) + "|" + a.Email
	sealed, err := m.cfg.Secrets.Seal([]byte(payload), pendingAD)
	if err != nil {
		return nil, "", err
	}
	return nil, base64.RawURLEncoding.EncodeToString(sealed), nil
}

// pendingSignIn is what a sealed ticket of the password step names.
type pendingSignIn struct {
	adminID, email string
	deadline       time.Time
}

// openPending opens a ticket of BeginAdminSignIn; ok is false for anything
// this instance did not seal (or a ticket of an older shape).
func (m *Manager) openPending(pending string) (p pendingSignIn, ok bool) {
	if len(pending) > 512 {
		return p, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(pending)
	if err != nil {
		return p, false
	}
	plain, err := m.cfg.Secrets.Open(raw, pendingAD)
	if err != nil {
		return p, false
	}
	parts := strings.SplitN(string(plain), "|", 3)
	if len(parts) != 3 {
		return p, false
	}
	until, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return p, false
	}
	return pendingSignIn{adminID: parts[0], email: parts[2], deadline: time.Unix(until, 0)}, true
}

// ReserveAdminSignInCode reserves the code step's attempt under the
// ticket's account. A ticket that does not open counts under the empty
// account (and its address), as a password step without an email does.
func (m *Manager) ReserveAdminSignInCode(ctx context.Context, pending string, ip netip.Addr) (*AdminSignIn, error) {
	p, _ := m.openPending(pending)
	return m.ReserveAdminSignIn(ctx, p.email, ip)
}

// FinishAdminSignIn is the code step of a dashboard sign-in.
func (m *Manager) FinishAdminSignIn(ctx context.Context, pending, code string) (*Admin, error) {
	wrong := errAdminSignIn()
	p, ok := m.openPending(pending)
	if !ok {
		return nil, wrong
	}
	if !m.clock.Now().Before(p.deadline) {
		return nil, &Error{Code: EUNAUTHORIZED, Message: "the sign-in took too long; start again", Reason: ReasonSignInExpired}
	}
	id := p.adminID
	a, err := m.Admin(ctx, id)
	if IsNotFound(err) {
		return nil, wrong
	} else if err != nil {
		return nil, err
	}
	if a.Disabled() || !a.TOTP() {
		return nil, wrong
	}
	code = strings.TrimSpace(code)
	// A TOTP code is 6 digits; a recovery code is 10 letters and digits
	// (shown as "xxxxx-xxxxx").
	if len(strings.NewReplacer(" ", "", "-", "").Replace(code)) > totpDigits+1 {
		if err := m.useRecoveryCode(ctx, a, code); err != nil {
			return nil, err
		}
		return a, nil
	}
	if err := m.useAdminTOTP(ctx, a, code); err != nil {
		return nil, err
	}
	return a, nil
}

func (m *Manager) recoveryStore() (RecoveryCodeStore, error) {
	st, ok := m.store.(RecoveryCodeStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no recovery codes")
	}
	return st, nil
}

// twoFactorStores is the store as the keeper of admin accounts (their
// sealed TOTP secret) and of their recovery codes.
func (m *Manager) twoFactorStores() (AdminStore, RecoveryCodeStore, error) {
	st, ok := m.store.(AdminStore)
	if !ok {
		return nil, nil, Errorf(EINTERNAL, "the store keeps no admin accounts")
	}
	rs, err := m.recoveryStore()
	return st, rs, err
}

func (m *Manager) useRecoveryCode(ctx context.Context, a *Admin, code string) error {
	st, err := m.recoveryStore()
	if err != nil {
		return err
	}
	if len(code) > 64 {
		return errAdminSignIn()
	}
	if err := st.UseAdminRecoveryCode(ctx, a.ID, m.recoveryHash(adminRecoveryDomain, a.ID, code), m.clock.Now()); err != nil {
		if IsNotFound(err) {
			return errAdminSignIn()
		}
		return err
	}
	m.recordAdminSession(ctx, Actor{Type: ActorAdmin, ID: a.ID, Email: a.Email, IP: ActorFrom(ctx).IP}, ActionAdminRecoveryUsed, &AdminSession{AdminID: a.ID}, "")
	return nil
}

// NewAdminTOTP draws a 160-bit secret for adminID.
func (m *Manager) NewAdminTOTP(ctx context.Context, adminID string) (TOTPEnrolment, error) {
	a, err := m.Admin(ctx, adminID)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	secret := NewTOTPSecret()
	return TOTPEnrolment{Secret: secret, URI: AdminTOTPURI(a.Email, secret)}, nil
}

// AdminTOTPURI is the otpauth:// URI an authenticator app scans (as a QR
// code) to add the admin account email with a base32 secret.
func AdminTOTPURI(email, secret string) string { return TOTPURI(adminTOTPIssuer, email, secret) }

// EnableAdminTOTP turns TOTP on for adminID.
func (m *Manager) EnableAdminTOTP(ctx context.Context, adminID, secret, code, currentSessionID string) ([]string, error) {
	st, rs, err := m.twoFactorStores()
	if err != nil {
		return nil, err
	}
	a, err := m.Admin(ctx, adminID)
	if err != nil {
		return nil, err
	}
	if a.TOTP() {
		return nil, InvalidFields(map[string]string{"code": "two-factor sign-in is already on; turn it off first"})
	}
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return nil, InvalidFields(map[string]string{"secret": "is not a TOTP secret; reload the page"})
	}
	if _, ok := verifyTOTP(key, code, m.clock.Now()); !ok {
		return nil, InvalidFields(map[string]string{"code": "is not the code your app shows now"})
	}
	sealed, err := SealTOTP(m.cfg.Secrets, adminID, secret)
	if err != nil {
		return nil, err
	}
	// The code proving the enrolment is spent, as a sign-in's: seen once,
	// it signs nobody in.
	if err := m.useAdminTOTP(ctx, &Admin{ID: adminID, TOTPSealed: sealed}, code); err != nil {
		if ErrorCode(err) == EUNAUTHORIZED {
			return nil, InvalidFields(map[string]string{"code": "was already used; wait for the next code"})
		}
		return nil, err
	}
	codes, hashes := m.newRecoveryCodes(adminRecoveryDomain, adminID, adminRecoveryCodes)
	if err := rs.SetAdminRecoveryCodes(ctx, adminID, hashes); err != nil {
		return nil, err
	}
	if err := st.SetAdminTOTP(ctx, adminID, sealed); err != nil {
		return nil, err
	}
	m.recordAdminSession(ctx, ActorFrom(ctx), ActionAdminTOTPEnabled, &AdminSession{AdminID: adminID}, "")
	if _, err := m.EndAdminSessions(ctx, adminID, currentSessionID, EndTOTPChanged); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableAdminTOTP turns TOTP off for adminID after checking password.
func (m *Manager) DisableAdminTOTP(ctx context.Context, adminID, password, currentSessionID string) error {
	st, rs, err := m.twoFactorStores()
	if err != nil {
		return err
	}
	a, err := m.Admin(ctx, adminID)
	if err != nil {
		return err
	}
	if err := m.checkOwnPassword(ctx, a, password); err != nil {
		return err
	}
	if err := st.SetAdminTOTP(ctx, adminID, nil); err != nil {
		return err
	}
	if err := rs.SetAdminRecoveryCodes(ctx, adminID, nil); err != nil {
		return err
	}
	m.recordAdminSession(ctx, ActorFrom(ctx), ActionAdminTOTPDisabled, &AdminSession{AdminID: adminID}, "")
	_, err = m.EndAdminSessions(ctx, adminID, currentSessionID, EndTOTPChanged)
	return err
}
