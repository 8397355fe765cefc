package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/dpoptest"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

func TestParseProof(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range []string{"ES256", "EdDSA"} {
		key := dpoptest.NewKey(t, alg)
		p, err := token.ParseProof(key.Proof("GET", "https://a.example/x", "tok", now))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if p.JKT != key.JKT || p.Method != "GET" || p.URL != "https://a.example/x" || !p.IssuedAt.Equal(now) || p.AccessTokenHash != dpoptest.ATH("tok") || p.ID == "" {
			t.Fatalf("%s: parsed %+v", alg, p)
		}
	}
}

// signWith signs payload as a compact JWS with alg and the given extra
// headers (no embedded jwk unless one is given).
func signWith(t *testing.T, key any, alg jose.SignatureAlgorithm, payload string, headers map[jose.HeaderKey]any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: headers}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseProofRefuses: every malformed or unsafe proof is a 401
// invalid_dpop_proof, never a panic.
func TestParseProofRefuses(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey}
	private := jose.JSONWebKey{Key: priv}
	claims := `{"jti":"j1","htm":"GET","htu":"https://a.example/x","iat":1800000000}`
	typ := map[jose.HeaderKey]any{"typ": "dpop+jwt", "jwk": pub}
	good := signWith(t, priv, jose.ES256, claims, typ)
	if _, err := token.ParseProof(good); err != nil {
		t.Fatalf("the control proof: %v", err)
	}
	parts := strings.Split(good, ".")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hs := signWith(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, claims, typ)
	for _, c := range []struct{ what, proof string }{
		{"empty", ""},
		{"too long", strings.Repeat("a", sm.MaxDPoPProofLen+1)},
		{"not a JWS", "garbage"},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"none"}`)) + "." + parts[1] + "."},
		{"symmetric alg", hs},
		{"no typ", signWith(t, priv, jose.ES256, claims, map[jose.HeaderKey]any{"jwk": pub})},
		{"typ JWT", signWith(t, priv, jose.ES256, claims, map[jose.HeaderKey]any{"typ": "JWT", "jwk": pub})},
		{"no jwk", signWith(t, priv, jose.ES256, claims, map[jose.HeaderKey]any{"typ": "dpop+jwt"})},
		{"private key in jwk", signWith(t, priv, jose.ES256, claims, map[jose.HeaderKey]any{"typ": "dpop+jwt", "jwk": private})},
		{"signed by another key", signWith(t, other, jose.ES256, claims, typ)},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(claims, "GET", "PUT", 1))) + "." + parts[2]},
		{"no jti", signWith(t, priv, jose.ES256, `{"htm":"GET","htu":"https://a.example/x","iat":1800000000}`, typ)},
		{"jti too long", signWith(t, priv, jose.ES256, `{"jti":"`+strings.Repeat("j", sm.MaxDPoPJTILen+1)+`","htm":"GET","htu":"https://a.example/x","iat":1800000000}`, typ)},
		{"no htm", signWith(t, priv, jose.ES256, `{"jti":"j","htu":"https://a.example/x","iat":1800000000}`, typ)},
		{"no iat", signWith(t, priv, jose.ES256, `{"jti":"j","htm":"GET","htu":"https://a.example/x"}`, typ)},
		{"iat not a number", signWith(t, priv, jose.ES256, `{"jti":"j","htm":"GET","htu":"https://a.example/x","iat":"now"}`, typ)},
		{"iat absurd", signWith(t, priv, jose.ES256, `{"jti":"j","htm":"GET","htu":"https://a.example/x","iat":1e300}`, typ)},
		{"payload not an object", signWith(t, priv, jose.ES256, `[1,2]`, typ)},
	} {
		_, err := token.ParseProof(c.proof)
		var e *sm.Error
		if err == nil || sm.ErrorCode(err) != sm.EUNAUTHORIZED {
			t.Errorf("%s: got %v, want 401", c.what, err)
			continue
		}
		if e, _ = err.(*sm.Error); e.Reason != sm.ReasonInvalidDPoPProof {
			t.Errorf("%s: reason %q", c.what, e.Reason)
		}
	}
}

// FuzzParseProof: no input panics; whatever passes names a thumbprint.
func FuzzParseProof(f *testing.F) {
	f.Add("e30.e30.e30")
	f.Add("")
	f.Fuzz(func(t *testing.T, proof string) {
		if p, err := token.ParseProof(proof); err == nil && p.JKT == "" {
			t.Fatal("a proof passed without a key thumbprint")
		}
	})
}

// BenchmarkParseProof is the cost of one DPoP proof's form and signature
// check (the part of a bound request's cost that bearer requests never pay).
func BenchmarkParseProof(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			key := dpoptest.NewKey(b, alg)
			proof := key.Proof("GET", "https://app.example.com/orders", "an access token", time.Unix(1_800_000_000, 0))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := token.ParseProof(proof); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
