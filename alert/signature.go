package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Webhook headers.
const (
	HeaderTimestamp      = "X-MSM-Timestamp"
	HeaderSignature      = "X-MSM-Signature"
	HeaderIdempotencyKey = "X-MSM-Idempotency-Key"
)

// Sign returns the X-MSM-Signature value of body sent at timestamp (unix
// seconds): "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks a webhook's X-MSM-Signature in constant time, and
// that its X-MSM-Timestamp is within tolerance of now (replay protection).
// The header may hold several comma-separated signatures (during a secret
// rotation); one valid is enough.
func VerifySignature(secret []byte, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) error {
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return sm.Errorf(sm.EUNAUTHORIZED, "invalid webhook timestamp")
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return sm.Errorf(sm.EUNAUTHORIZED, "webhook timestamp outside the tolerance")
	}
	want := []byte(Sign(secret, timestamp, body))
	ok := false
	for _, sig := range strings.Split(signature, ",") {
		// Every candidate is compared in full: no early exit on a match.
		ok = hmac.Equal([]byte(strings.TrimSpace(sig)), want) || ok
	}
	if !ok {
		return sm.Errorf(sm.EUNAUTHORIZED, "invalid webhook signature")
	}
	return nil
}
