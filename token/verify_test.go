package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// len counts cached tokens (tests only).
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].entries)
		c.shards[i].mu.RUnlock()
	}
	return n
}

// isInvalidToken reports whether err is the one answer to a bad token.
// drop removes token from the cache (tests only).
func (c *verifiedCache) drop(token string) {
	k, _ := keyOf(token)
	s := c.shard(c.sum(token))
	s.mu.Lock()
	delete(s.entries, k)
	s.mu.Unlock()
}

func isInvalidToken(err error) bool {
	return sm.ErrorCode(err) == sm.EUNAUTHORIZED && sm.ErrorMessage(err) == "invalid token"
}

// validClaims are the claims of a good token expiring at exp.
func validClaims(exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "user-1",
		"sid": "sess-1",
		"iat": exp.Add(-15 * time.Minute).Unix(),
		"exp": exp.Unix(),
		"jti": "j1",
	}
}

// sign signs claims with method and key under the given header fields.
func sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	delete(tok.Header, "typ")
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signEdDSA(t *testing.T, priv ed25519.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid, "typ": "at+jwt"}, claims)
}

func without(c jwt.MapClaims, name string) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		if k != name {
			out[k] = v
		}
	}
	return out
}

func with(c jwt.MapClaims, name string, v any) jwt.MapClaims {
	out := without(c, name)
	out[name] = v
	return out
}

func TestVerifyRejects(t *testing.T) {
	clock := newClock()
	kr := newTestKeyring(t, &memKeyStore{}, clock)
	now := clock.Now()
	set := kr.keys.Load()
	signer := set.signerAt(now)
	kid, priv := signer.id, signer.private
	public := []byte(priv.Public().(ed25519.PublicKey))
	good := validClaims(now.Add(10 * time.Minute))
	goodTok := signEdDSA(t, priv, kid, good)
	if _, err := kr.Verify(goodTok, now); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	parts := strings.Split(goodTok, ".")

	tests := map[string]string{
		"alg none": sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			map[string]any{"kid": kid, "typ": "at+jwt"}, good),
		"HS256 keyed with the public key": sign(t, jwt.SigningMethodHS256, public,
			map[string]any{"kid": kid, "typ": "at+jwt"}, good),
		"RS256": sign(t, jwt.SigningMethodRS256, rsaKey,
			map[string]any{"kid": kid, "typ": "at+jwt"}, good),
		"unknown kid":            signEdDSA(t, otherPriv, thumbprint(otherPriv.Public().(ed25519.PublicKey)), good),
		"known kid, other key":   signEdDSA(t, otherPriv, kid, good),
		"missing kid":            sign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"typ": "at+jwt"}, good),
		"wrong iss":              signEdDSA(t, priv, kid, with(good, "iss", "https://evil.example.com")),
		"missing iss":            signEdDSA(t, priv, kid, without(good, "iss")),
		"wrong aud":              signEdDSA(t, priv, kid, with(good, "aud", "https://other.example.com")),
		"missing aud":            signEdDSA(t, priv, kid, without(good, "aud")),
		"wrong typ":              sign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid, "typ": "JWT"}, good),
		"missing typ":            sign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": kid}, good),
		"missing exp":            signEdDSA(t, priv, kid, without(good, "exp")),
		"exp not a number":       signEdDSA(t, priv, kid, with(good, "exp", "tomorrow")),
		"expired":                signEdDSA(t, priv, kid, with(good, "exp", now.Add(-time.Second).Unix())),
		"expires now":            signEdDSA(t, priv, kid, with(good, "exp", now.Unix())),
		"missing sid":            signEdDSA(t, priv, kid, without(good, "sid")),
		"empty sid":              signEdDSA(t, priv, kid, with(good, "sid", "")),
		"missing sub":            signEdDSA(t, priv, kid, without(good, "sub")),
		"missing iat":            signEdDSA(t, priv, kid, without(good, "iat")),
		"tampered payload":       parts[0] + "." + tamperedPayload(t, parts[1]) + "." + parts[2],
		"tampered signature":     parts[0] + "." + parts[1] + "." + flipChar(parts[2]),
		"signature removed":      parts[0] + "." + parts[1] + ".",
		"extra segment":          goodTok + ".e30",
		"garbage":                "not.a.token",
		"random bytes":           "\x00\xff\xfe",
		"empty":                  "",
		"too long":               goodTok + strings.Repeat("A", maxTokenLen),
		"padded base64 segments": parts[0] + "=." + parts[1] + "." + parts[2],
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := kr.Verify(tok, now)
			if !isInvalidToken(err) {
				t.Fatalf("Verify = %+v, %v; want the invalid token error", got, err)
			}
			if !reflect.DeepEqual(got, sm.AccessClaims{}) {
				t.Fatalf("rejected token returned claims %+v", got)
			}
		})
	}
	if n := kr.cache.len(); n != 1 {
		t.Fatalf("cache has %d entries, want only the control token", n)
	}
}

// tamperedPayload changes the subject of an encoded payload.
func tamperedPayload(t *testing.T, seg string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["sub"] = "admin"
	out, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(out)
}

// flipChar changes the first character of s to another valid one.
func flipChar(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

// TestVerifyCacheAnswersOnlyItsToken: the cache keys on the start of the
// signature, so a token that reuses a cached token's signature (or its
// first characters) with other claims must be verified, and refused, not
// answered with the cached token's claims.
func TestVerifyCacheAnswersOnlyItsToken(t *testing.T) {
	clock := newClock()
	kr := newTestKeyring(t, &memKeyStore{}, clock)
	now := clock.Now()
	victim, claims := mustIssue(t, kr, now) // cached by Issue
	if got, err := kr.Verify(victim, now); err != nil || got.Subject != claims.Subject || got.SessionID != claims.SessionID {
		t.Fatalf("cached token: %+v %v", got, err)
	}
	other, _, err := kr.Issue(context.Background(), "user-2", "sess-2", sm.AuthContext{}, now)
	if err != nil {
		t.Fatal(err)
	}
	sig := victim[strings.LastIndexByte(victim, '.')+1:]
	forged := []string{
		other[:strings.LastIndexByte(other, '.')+1] + sig,        // another token's claims, the victim's signature
		victim[:strings.LastIndexByte(victim, '.')+1] + sig[:20], // a truncated signature
		victim + "A", // one character more
	}
	for _, f := range forged {
		if c, err := kr.Verify(f, now); !isInvalidToken(err) {
			t.Fatalf("forged token %.40s… accepted as %s/%s", f, c.Subject, c.SessionID)
		}
	}
	// The cached claims come back whole, auth context included.
	auth := sm.AuthContext{AuthTime: now.Add(-time.Hour), AMR: []string{"pwd", "otp"}, ACR: sm.ACRMultiFactor}
	tok, issued, err := kr.Issue(context.Background(), "user-3", "sess-3", auth, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kr.Verify(tok, now.Add(time.Minute))
	if err != nil || !got.AuthTime.Equal(issued.AuthTime) || !got.IssuedAt.Equal(issued.IssuedAt) || !got.ExpiresAt.Equal(issued.ExpiresAt) ||
		strings.Join(got.AMR, " ") != "pwd otp" || got.ACR != sm.ACRMultiFactor || got.KeyID != issued.KeyID || got.Subject != "user-3" || got.SessionID != "sess-3" {
		t.Fatalf("cached claims %+v, issued %+v (%v)", got, issued, err)
	}
}
