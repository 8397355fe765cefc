package sessionmanager

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TOTP follows RFC 6238 with the parameters every authenticator app uses:
// HMAC-SHA1, 30-second steps, 6 digits. It is hand-written (30 lines)
// rather than a new module dependency; the RFC's test vectors check it and
// the tests of the binary compute codes with an independent implementation
// (github.com/pquerna/otp). One implementation serves the admins' dashboard
// sign-in (adminsignin.go) and the end users' second factor
// (manager_totp.go); both spend a code once across instances (useTOTP).
const (
	totpStep   = 30
	totpDigits = 6
	// totpSkew accepts the previous and next step for clock drift.
	totpSkew = 1
	// totpUsedTTL is how long a used step is remembered: a step's code is
	// accepted from the start of the step before it to the end of the
	// step after it (three steps), plus one step for the instances' clocks.
	totpUsedTTL = (2*totpSkew + 2) * totpStep * time.Second
	// totpSecretBytes is the size of a new secret: 160 bits, RFC 4226's
	// recommendation and SHA-1's output size.
	totpSecretBytes = 20
)

var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a fresh random 160-bit TOTP secret in base32, as an
// otpauth:// URI carries it.
func NewTOTPSecret() string {
	b := make([]byte, totpSecretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return totpEncoding.EncodeToString(b)
}

// TOTPURI is the otpauth:// URI an authenticator app scans for secret
// (Google Authenticator's key URI format: issuer prefix and parameter).
func TOTPURI(issuer, account, base32Secret string) string {
	q := url.Values{}
	q.Set("secret", base32Secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(totpDigits))
	q.Set("period", strconv.Itoa(totpStep))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + q.Encode()
}

// sealTOTP checks a base32 secret and seals it with additional data ad.
func sealTOTP(secrets Secrets, base32Secret string, ad []byte) ([]byte, error) {
	if _, err := decodeTOTPSecret(base32Secret); err != nil {
		return nil, err
	}
	return secrets.Seal([]byte(base32Secret), ad)
}

func decodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	key, err := totpEncoding.DecodeString(strings.TrimRight(s, "="))
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

// useTOTP opens a sealed secret (sealed with ad), checks code against it at
// the core's now and spends the code: ok=false for a wrong code or one used
// before. subject names whose codes these are in the counter every
// instance shares (Config.Failures), so a code is used once across
// instances; err is for system failures only.
func (m *Manager) useTOTP(ctx context.Context, subject string, sealed, ad []byte, code string) (ok bool, err error) {
	secret, err := m.cfg.Secrets.Open(sealed, ad)
	if err != nil {
		return false, WrapError(EINTERNAL, "TOTP secret does not open", err)
	}
	key, err := decodeTOTPSecret(string(secret))
	if err != nil {
		return false, WrapError(EINTERNAL, "TOTP secret is not base32", err)
	}
	step, ok := verifyTOTP(key, code, m.clock.Now())
	if !ok {
		return false, nil
	}
	// The step is reserved first, atomically: of two requests with one
	// code, on any instances, only the first gets 1. The earlier steps the
	// window still accepts are spent with it, so an older code seen along
	// with this one is refused too.
	for d := int64(0); d <= 2*totpSkew; d++ {
		n, err := m.fails.Incr(ctx, totpUsedKey(subject, step-d), totpUsedTTL)
		if err != nil {
			return false, err
		}
		if d == 0 && n != 1 {
			return false, nil
		}
	}
	return true, nil
}

// totpUsedKey is the counter key of a subject's TOTP time step (an admin's
// id as is, "user:<id>" for an end user).
func totpUsedKey(subject string, step int64) string {
	return "totp:" + subject + ":" + strconv.FormatInt(step, 10)
}
