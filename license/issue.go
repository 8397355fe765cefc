package license

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

var errBadPublicKey = sm.Errorf(sm.EINVALID, "licence public key must be 32 bytes in base64")

// GenerateVendorKey makes a new vendor key pair. Keep priv offline; build
// pub into the binary (pubkey.go).
func GenerateVendorKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return pub, priv
}

// EncodePrivateKey is the file form LoadPrivateKey reads: the base64 seed.
func EncodePrivateKey(priv ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(priv.Seed()) + "\n"
}

// EncodePublicKey is the base64 form of pub (pubkey.go, SM_LICENSE_PUBLIC_KEY).
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// LoadPrivateKey reads a vendor private key file: the base64 32-byte seed
// (EncodePrivateKey) or a PEM "PRIVATE KEY" block (PKCS#8, as written by
// `openssl genpkey -algorithm ed25519`).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "read vendor key: %v", err)
	}
	return parsePrivateKey(b)
}

func parsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	if block, _ := pem.Decode(b); block != nil {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, sm.Errorf(sm.EINVALID, "vendor key: PEM is not PKCS#8: %v", err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, sm.Errorf(sm.EINVALID, "vendor key: PEM holds a %T, not an Ed25519 key", k)
		}
		return priv, nil
	}
	seed, err := decodeBase64(string(b))
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "vendor key: neither PEM nor base64")
	}
	switch len(seed) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(seed), nil
	case ed25519.PrivateKeySize:
		// The 64-byte form (seed + public key): accept it, but check the halves agree.
		priv := ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
		if string(priv) != string(seed) {
			return nil, sm.Errorf(sm.EINVALID, "vendor key: the 64-byte key's public half does not match its seed")
		}
		return priv, nil
	}
	return nil, sm.Errorf(sm.EINVALID, "vendor key: %d bytes, expected a 32-byte seed", len(seed))
}

// decodeBase64 reads standard or URL base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// Issue signs l with the vendor key and returns the key string. ID, KeyID
// and IssuedAt are filled in when empty; ExpiresAt is required.
func Issue(priv ed25519.PrivateKey, l Licence) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", sm.Errorf(sm.EINVALID, "vendor key has %d bytes, not %d", len(priv), ed25519.PrivateKeySize)
	}
	pub, _ := priv.Public().(ed25519.PublicKey)
	if l.KeyID == "" {
		l.KeyID = KeyIDOf(pub)
	}
	if l.ID == "" {
		l.ID = sm.NewID()[:16]
	}
	if l.IssuedAt.IsZero() {
		l.IssuedAt = time.Now()
	}
	l.IssuedAt, l.ExpiresAt = l.IssuedAt.UTC().Truncate(time.Second), l.ExpiresAt.UTC().Truncate(time.Second)
	if fields := l.invalidFields(); len(fields) > 0 {
		return "", sm.InvalidFields(fields)
	}
	raw, err := json.Marshal(payload{Version: 1, ID: l.ID, KeyID: l.KeyID, Licensee: l.Licensee, Edition: l.Edition,
		Seats: l.Seats, Instances: l.Instances, IssuedAt: l.IssuedAt.Unix(), ExpiresAt: l.ExpiresAt.Unix()})
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(priv, raw)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(raw) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
