package token

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// TestInteropGoJose verifies a token offline the way another service would:
// with a different JOSE library and nothing but the published JWKS.
func TestInteropGoJose(t *testing.T) {
	clock := newClock()
	kr := newTestKeyring(t, &memKeyStore{}, clock)
	tok, issued := mustIssue(t, kr, clock.Now())

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(kr.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Headers[0]
	if h.Algorithm != "EdDSA" || h.ExtraHeaders["typ"] != "at+jwt" {
		t.Fatalf("header alg %q typ %v", h.Algorithm, h.ExtraHeaders["typ"])
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys for kid %q", len(keys), h.KeyID)
	}
	// The kid is the key's RFC 7638 thumbprint, as go-jose computes it.
	tp, err := keys[0].Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != h.KeyID {
		t.Fatalf("kid %q is not the thumbprint (%v)", h.KeyID, err)
	}
	var std josejwt.Claims
	var extra struct {
		SessionID string `json:"sid"`
	}
	if err := parsed.Claims(keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose rejects the signature: %v", err)
	}
	err = std.ValidateWithLeeway(josejwt.Expected{
		Issuer:      testIssuer,
		AnyAudience: josejwt.Audience{testAudience},
		Subject:     issued.Subject,
		Time:        clock.Now(),
	}, 0)
	if err != nil {
		t.Fatalf("go-jose rejects the claims: %v", err)
	}
	if extra.SessionID != issued.SessionID || std.ID == "" || !std.Expiry.Time().Equal(issued.ExpiresAt) {
		t.Fatalf("claims sid %q jti %q exp %v", extra.SessionID, std.ID, std.Expiry.Time())
	}

	// A tampered token fails in go-jose too: the check is real.
	// (Flip a bit of the signature's first byte: replacing its last base64
	// characters can leave the decoded bytes unchanged.)
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	forged, err := josejwt.ParseSigned(tok[:dot+1]+base64.RawURLEncoding.EncodeToString(sig), []jose.SignatureAlgorithm{jose.EdDSA})
	if err == nil {
		if err := forged.Claims(keys[0].Key, &std); err == nil {
			t.Fatal("go-jose accepts a tampered signature")
		}
	}
}
