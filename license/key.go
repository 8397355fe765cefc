package license

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// KeyPrefix starts every key of format version 1.
const KeyPrefix = "MSM1."

// MaxKeyLength bounds a key so a pasted blob costs nothing to reject.
const MaxKeyLength = 4096

// Licence is what a key grants. Seats and Instances are informational
// (0 = unlimited): nothing is counted over the network.
type Licence struct {
	// ID names this licence (a serial), for support and revocation lists.
	ID string
	// KeyID names the vendor key that signed it (see KeyIDOf).
	KeyID     string
	Licensee  string
	Edition   Edition
	Seats     int
	Instances int
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// payload is the signed JSON of a key; times are Unix seconds.
type payload struct {
	Version   int     `json:"v"`
	ID        string  `json:"id"`
	KeyID     string  `json:"kid"`
	Licensee  string  `json:"licensee"`
	Edition   Edition `json:"edition"`
	Seats     int     `json:"seats,omitempty"`
	Instances int     `json:"instances,omitempty"`
	IssuedAt  int64   `json:"iat"`
	ExpiresAt int64   `json:"exp"`
}

// KeyIDOf is the id of a vendor public key: the first 8 bytes of its
// SHA-256, in hex. Keys carry it so a key from another vendor key is named
// as such instead of as a bad signature.
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// malformed is the error of every unreadable key.
func malformed(format string, args ...any) error {
	e := sm.Errorf(sm.EINVALID, "licence key is malformed: "+format, args...)
	e.Reason = "license_malformed"
	return e
}

// parsed is a key split into its parts; the signature is not checked yet.
type parsed struct {
	lic     Licence
	payload []byte
	sig     []byte
}

// normalizeKey drops every whitespace character, so a key wrapped by an
// email client or a terminal still reads.
func normalizeKey(key string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, key)
}

// parse splits and decodes a key and checks its payload's fields. It does
// not check the signature (see Verifier) nor the expiry (that is time's).
func parse(key string) (*parsed, error) {
	if len(key) > MaxKeyLength*2 {
		return nil, malformed("longer than %d characters", MaxKeyLength)
	}
	key = normalizeKey(key)
	if key == "" {
		return nil, malformed("empty")
	}
	if len(key) > MaxKeyLength {
		return nil, malformed("longer than %d characters", MaxKeyLength)
	}
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return nil, malformed("it must start with %q", KeyPrefix)
	}
	body, sigText, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigText, ".") {
		return nil, malformed("expected %q + payload + \".\" + signature", KeyPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) == 0 {
		return nil, malformed("the payload is not base64url")
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil {
		return nil, malformed("the signature is not base64url")
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, malformed("the signature has %d bytes, not %d", len(sig), ed25519.SignatureSize)
	}
	lic, err := decodePayload(raw)
	if err != nil {
		return nil, err
	}
	return &parsed{lic: lic, payload: raw, sig: sig}, nil
}

// decodePayload reads and checks the signed JSON.
func decodePayload(raw []byte) (Licence, error) {
	var p payload
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&p); err != nil {
		return Licence{}, malformed("the payload is not JSON")
	}
	if dec.More() {
		return Licence{}, malformed("trailing data after the payload")
	}
	if p.Version != 1 {
		return Licence{}, malformed("format version %d is not supported (this build reads 1)", p.Version)
	}
	l := Licence{ID: p.ID, KeyID: p.KeyID, Licensee: p.Licensee, Edition: p.Edition, Seats: p.Seats,
		Instances: p.Instances, IssuedAt: unixTime(p.IssuedAt), ExpiresAt: unixTime(p.ExpiresAt)}
	if fields := l.invalidFields(); len(fields) > 0 {
		return Licence{}, malformed("%s", describeFields(fields))
	}
	return l, nil
}

// unixTime reads Unix seconds; 0 stays the zero time.
func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// maxUnix keeps times far from the int64 edge (year 9999).
const maxUnix = 253402300799

// invalidFields names each bad field of l.
func (l Licence) invalidFields() map[string]string {
	f := map[string]string{}
	if strings.TrimSpace(l.Licensee) == "" {
		f["licensee"] = "required"
	} else if len(l.Licensee) > 200 {
		f["licensee"] = "at most 200 characters"
	}
	if !l.Edition.Valid() {
		f["edition"] = "one of free, premium, advanced"
	}
	if l.ID == "" || len(l.ID) > 64 {
		f["id"] = "required, at most 64 characters"
	}
	if l.KeyID == "" || len(l.KeyID) > 64 {
		f["kid"] = "required, at most 64 characters"
	}
	if l.Seats < 0 || l.Seats > 1_000_000_000 {
		f["seats"] = "0 (unlimited) or a positive count"
	}
	if l.Instances < 0 || l.Instances > 1_000_000 {
		f["instances"] = "0 (unlimited) or a positive count"
	}
	if l.IssuedAt.IsZero() || l.IssuedAt.Unix() < 0 || l.IssuedAt.Unix() > maxUnix {
		f["iat"] = "required"
	}
	if l.ExpiresAt.IsZero() || l.ExpiresAt.Unix() > maxUnix {
		f["exp"] = "required"
	} else if !l.ExpiresAt.After(l.IssuedAt) {
		f["exp"] = "must be after the issue time"
	}
	return f
}

// describeFields is "edition: ...; exp: ..." in a stable order.
func describeFields(f map[string]string) string {
	var parts []string
	for _, k := range []string{"v", "id", "kid", "licensee", "edition", "seats", "instances", "iat", "exp"} {
		if why, ok := f[k]; ok {
			parts = append(parts, k+": "+why)
		}
	}
	return strings.Join(parts, "; ")
}
