package token

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// KeySize is the size of SESSION_ENCRYPTION_KEY in bytes.
const KeySize = 32

// TokenLen is the length of a token from NewToken: 32 bytes in unpadded
// base64url.
const TokenLen = 43

// ParseKey decodes SESSION_ENCRYPTION_KEY: standard or URL-safe base64, with
// or without padding, of exactly 32 bytes. The error never echoes the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, sm.Errorf(sm.EINVALID, "encryption key is empty: set SESSION_ENCRYPTION_KEY to 32 random bytes in base64 (openssl rand -base64 32)")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, sm.Errorf(sm.EINVALID, "encryption key must be %d bytes, got %d: use 32 random bytes in base64 (openssl rand -base64 32)", KeySize, len(key))
		}
		return key, nil
	}
	return nil, sm.Errorf(sm.EINVALID, "encryption key is not valid base64: use 32 random bytes in base64 (openssl rand -base64 32)")
}

// GenerateKey returns a new random encryption key in standard base64, the
// form ParseKey reads.
func GenerateKey() string {
	key := make([]byte, KeySize)
	rand.Read(key) // never fails: crypto/rand aborts the program instead
	return base64.StdEncoding.EncodeToString(key)
}

// ValidTokenShape reports whether s looks like a token from NewToken: 43
// base64url characters whose last one carries no stray bits. It is a cheap
// reject before any hashing or store lookup.
func ValidTokenShape(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if base64URLValue(s[i]) < 0 {
			return false
		}
	}
	// 43 characters carry 258 bits; the last 2 must be zero for 32 bytes.
	return base64URLValue(s[TokenLen-1])&3 == 0
}

// base64URLValue is the 6-bit value of a base64url character, -1 if none.
func base64URLValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
