// Package dpoptest makes DPoP proofs (RFC 9449) for tests: a client key and
// proofs signed by it, right or deliberately wrong.
package dpoptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key is a client's DPoP key pair.
type Key struct {
	t      testing.TB
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
	// JKT is the RFC 7638 thumbprint of the public key.
	JKT string
}

// NewKey makes a key for alg: "ES256" or "EdDSA".
func NewKey(t testing.TB, alg string) *Key {
	t.Helper()
	k := &Key{t: t, alg: jose.SignatureAlgorithm(alg)}
	switch alg {
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.signer = priv
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.signer = priv
	default:
		t.Fatalf("dpoptest: unsupported alg %s", alg)
	}
	thumb, err := (&jose.JSONWebKey{Key: k.signer.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k.JKT = base64.RawURLEncoding.EncodeToString(thumb)
	return k
}

// Claims are a proof's payload; Proof fills jti and iat when empty.
type Claims struct {
	JTI string `json:"jti,omitempty"`
	HTM string `json:"htm,omitempty"`
	HTU string `json:"htu,omitempty"`
	IAT int64  `json:"iat,omitempty"`
	ATH string `json:"ath,omitempty"`
}

// Proof signs a proof for method and url at now, for accessToken when not
// "" (ath), with a fresh random jti.
func (k *Key) Proof(method, url, accessToken string, now time.Time) string {
	c := Claims{HTM: method, HTU: url, IAT: now.Unix()}
	if accessToken != "" {
		c.ATH = ATH(accessToken)
	}
	return k.Sign(c, "dpop+jwt")
}

// Sign signs c as a proof with header typ, filling an empty jti.
func (k *Key) Sign(c Claims, typ string) string {
	k.t.Helper()
	if c.JTI == "" {
		var b [16]byte
		rand.Read(b[:])
		c.JTI = base64.RawURLEncoding.EncodeToString(b[:])
	}
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(jose.ContentType(typ))
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.signer}, opts)
	if err != nil {
		k.t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := s.Sign(payload)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// ATH is a proof's ath for accessToken.
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
