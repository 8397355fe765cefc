package sessionmanager

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// An admin's second factor for the dashboard is a TOTP code, checked by the
// core (CheckAdminSignIn), never by a front end: the core opens the sealed
// secret and refuses a code already used, in the counter every instance
// shares (Config.Failures), so a code seen once cannot sign in again on
// another instance.
//
// TOTP follows RFC 6238 with the parameters every authenticator app uses:
// HMAC-SHA1, 30-second steps, 6 digits. It is hand-written (30 lines)
// rather than a new module dependency; the RFC's test vectors check it.
const (
	totpStep   = 30
	totpDigits = 6
	// totpSkew accepts the previous and next step for clock drift.
	totpSkew = 1
	// totpUsedTTL is how long a used step is remembered: a step's code is
	// accepted from the start of the step before it to the end of the
	// step after it (three steps), plus one step for the instances' clocks.
	totpUsedTTL = (2*totpSkew + 2) * totpStep * time.Second
)

// TOTPAdditionalData is the additional data an admin's TOTP secret is
// sealed with (Admin.TOTPSealed = Secrets.Seal(secret, TOTPAdditionalData(id))).
func TOTPAdditionalData(adminID string) []byte { return []byte("sm-admin-totp/v1:" + adminID) }

// SealTOTP seals a base32 TOTP secret (as in an otpauth:// URI) for
// Admin.TOTPSealed.
func SealTOTP(secrets Secrets, adminID, base32Secret string) ([]byte, error) {
	if _, err := decodeTOTPSecret(base32Secret); err != nil {
		return nil, err
	}
	return secrets.Seal([]byte(base32Secret), TOTPAdditionalData(adminID))
}

func decodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(key) < 10 {
		return nil, Errorf(EINVALID, "a TOTP secret is base32, at least 80 bits")
	}
	return key, nil
}

// TOTPCode is the code an authenticator app shows for a base32 secret at t
// (for tools and tests that stand in for the app).
func TOTPCode(base32Secret string, t time.Time) (string, error) {
	key, err := decodeTOTPSecret(base32Secret)
	if err != nil {
		return "", err
	}
	return hotp(key, uint64(t.Unix()/totpStep), totpDigits), nil
}

// hotp is RFC 4226's HOTP value of counter under key, with digits digits.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

// verifyTOTP checks code against key at now and returns the matched time
// step (to refuse a replay of the same code), or ok=false.
func verifyTOTP(key []byte, code string, now time.Time) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return 0, false
	}
	cur := now.Unix() / totpStep
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want := hotp(key, uint64(cur+d), totpDigits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return cur + d, true
		}
	}
	return 0, false
}

// CheckAdminSignIn returns the admin whose email and password these are
// and, when the admin has a TOTP secret, whose code is right and not used
// before. A code is used once: its time step (and every earlier step still
// in the window) is reserved for the admin in Config.Failures, so a replay
// is refused on every instance that shares the counter. Every refusal is
// the same EUNAUTHORIZED, in the same time for an unknown email.
func (m *Manager) CheckAdminSignIn(ctx context.Context, email, password, code string) (*Admin, error) {
	a, err := m.checkAdminPassword(ctx, email, password)
	if err != nil || len(a.TOTPSealed) == 0 {
		return a, err
	}
	if err := m.useAdminTOTP(ctx, a, code); err != nil {
		return nil, err
	}
	return a, nil
}

// useAdminTOTP checks code against the admin's sealed secret at the core's
// now and reserves its step; EUNAUTHORIZED for a wrong or used code.
func (m *Manager) useAdminTOTP(ctx context.Context, a *Admin, code string) error {
	wrong := errAdminSignIn()
	secret, err := m.cfg.Secrets.Open(a.TOTPSealed, TOTPAdditionalData(a.ID))
	if err != nil {
		return WrapError(EINTERNAL, "admin TOTP secret does not open", err)
	}
	key, err := decodeTOTPSecret(string(secret))
	if err != nil {
		return WrapError(EINTERNAL, "admin TOTP secret is not base32", err)
	}
	step, ok := verifyTOTP(key, code, m.clock.Now())
	if !ok {
		return wrong
	}
	// The step is reserved first, atomically: of two requests with one
	// code, on any instances, only the first gets 1. The earlier steps the
	// window still accepts are spent with it, so an older code seen along
	// with this one is refused too.
	for d := int64(0); d <= 2*totpSkew; d++ {
		n, err := m.fails.Incr(ctx, totpUsedKey(a.ID, step-d), totpUsedTTL)
		if err != nil {
			return err
		}
		if d == 0 && n != 1 {
			return wrong
		}
	}
	return nil
}

// errAdminSignIn is the one answer for an unknown email, a wrong password
// and a wrong or used code alike.
func errAdminSignIn() error {
	return Errorf(EUNAUTHORIZED, "invalid email, password or authentication code")
}

// checkAdminPassword checks a dashboard sign-in's email and password. An
// unknown email spends the time of a password check too.
func (m *Manager) checkAdminPassword(ctx context.Context, email, password string) (*Admin, error) {
	wrong := errAdminSignIn()
	st, err := m.adminLookup()
	if err != nil {
		return nil, err
	}
	a, err := st.AdminByEmail(ctx, email)
	if err != nil {
		_, _ = m.cfg.Passwords.Verify(m.dummy(), password)
		if IsNotFound(err) {
			return nil, wrong
		}
		return nil, err
	}
	if ok, err := m.cfg.Passwords.Verify(a.PasswordHash, password); err != nil || !ok || a.Disabled() {
		return nil, wrong
	}
	return a, nil
}

// totpUsedKey is the counter key of an admin's TOTP time step.
func totpUsedKey(adminID string, step int64) string {
	return "totp:" + adminID + ":" + strconv.FormatInt(step, 10)
}
