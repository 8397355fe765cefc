package web

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TOTP follows RFC 6238 with the parameters every authenticator app uses:
// HMAC-SHA1, 30-second steps, 6 digits. It is hand-written (30 lines)
// rather than a new module dependency; the RFC's test vectors check it.
const (
	totpStep   = 30
	totpDigits = 6
	// totpSkew accepts the previous and next step for clock drift.
	totpSkew = 1
)

// TOTPAdditionalData is the additional data an admin's TOTP secret is
// sealed with (Admin.TOTPSealed = Secrets.Seal(secret, TOTPAdditionalData(id))).
func TOTPAdditionalData(adminID string) []byte { return []byte("sm-admin-totp/v1:" + adminID) }

// SealTOTP seals a base32 TOTP secret (as in an otpauth:// URI) for
// Admin.TOTPSealed.
func SealTOTP(secrets sm.Secrets, adminID, base32Secret string) ([]byte, error) {
	if _, err := decodeTOTPSecret(base32Secret); err != nil {
		return nil, err
	}
	return secrets.Seal([]byte(base32Secret), TOTPAdditionalData(adminID))
}

func decodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(key) < 10 {
		return nil, sm.Errorf(sm.EINVALID, "a TOTP secret is base32, at least 80 bits")
	}
	return key, nil
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
