package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/golang-jwt/jwt/v5"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// typAccessToken is the JWT typ of access tokens (RFC 9068).
const typAccessToken = "at+jwt"

// maxTokenLen refuses absurd inputs before any parsing; real tokens are
// about 350 bytes.
const maxTokenLen = 4096

// errInvalidToken is the one answer to every bad token: a client learns
// nothing about why.
var errInvalidToken = &sm.Error{Code: sm.EUNAUTHORIZED, Message: "invalid token"}

// accessClaims is the JWT payload of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	// auth_time, amr and acr (OpenID Connect Core 2): how and when the
	// session's user last proved who they are.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	AMR      []string         `json:"amr,omitempty"`
	ACR      string           `json:"acr,omitempty"`
}

// Issue signs an access token for subject's session sessionID, valid from
// now (to the second, the precision of JWT times) for the TTL, with the
// session's auth context as auth_time, amr and acr.
func (kr *Keyring) Issue(_ context.Context, subject, sessionID string, auth sm.AuthContext, now time.Time) (string, sm.AccessClaims, error) {
	if subject == "" || sessionID == "" {
		return "", sm.AccessClaims{}, sm.Errorf(sm.EINVALID, "token: subject and session id are required")
	}
	signer := kr.keys.Load().signerAt(now)
	if signer == nil {
		return "", sm.AccessClaims{}, sm.Errorf(sm.EINTERNAL, "token: no active signing key")
	}
	iat := now.UTC().Truncate(time.Second)
	exp := iat.Add(kr.cfg.TTL)
	var jti [16]byte
	rand.Read(jti[:]) // never fails: crypto/rand aborts the program instead
	auth = authClaims(auth)
	var authTime *jwt.NumericDate
	if !auth.AuthTime.IsZero() {
		authTime = jwt.NewNumericDate(auth.AuthTime)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    kr.cfg.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{kr.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		SessionID: sessionID,
		AuthTime:  authTime, AMR: auth.AMR, ACR: auth.ACR,
	})
	t.Header["kid"] = signer.id
	t.Header["typ"] = typAccessToken
	signed, err := t.SignedString(signer.private)
	if err != nil {
		return "", sm.AccessClaims{}, err
	}
	c := sm.AccessClaims{Subject: subject, SessionID: sessionID, KeyID: signer.id, IssuedAt: iat, ExpiresAt: exp, AuthContext: auth}
	// The token is valid by construction: cached now, its first use costs
	// no signature check, and the claims returned share the cache's memory
	// (the session's cached state keys on them). The same rule as Verify's
	// applies: not past the end of the key's verifying life.
	if vk, ok := kr.keys.Load().verifiers[signer.id]; ok && (vk.expiresAt.IsZero() || !exp.After(vk.expiresAt)) {
		c = kr.cache.put(signed, c, now)
	}
	return signed, c, nil
}

// authClaims is the auth context as a token carries it: auth_time to the
// second (JWT precision), in UTC.
func authClaims(a sm.AuthContext) sm.AuthContext {
	if !a.AuthTime.IsZero() {
		a.AuthTime = a.AuthTime.UTC().Truncate(time.Second)
	}
	return a
}

// Verify checks token at now: algorithm EdDSA only, a known kid that has not
// expired, typ at+jwt, the signature, iss, aud, a required exp after now,
// and sub, sid and iat present. Every failure is the same EUNAUTHORIZED error.
// Valid tokens are cached until their exp, so a repeat costs a map lookup.
func (kr *Keyring) Verify(token string, now time.Time) (sm.AccessClaims, error) {
	if token == "" || len(token) > maxTokenLen {
		return sm.AccessClaims{}, errInvalidToken
	}
	if c, ok := kr.cache.get(token, now); ok {
		return c, nil
	}
	var claims accessClaims
	var kid string
	var key *verifyKey
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{algEdDSA}),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(kr.cfg.Issuer),
		jwt.WithAudience(kr.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != typAccessToken {
			return nil, errInvalidToken
		}
		kid, _ = t.Header["kid"].(string)
		var err error
		key, err = kr.publicKey(kid, now)
		if err != nil {
			return nil, err
		}
		return key.public, nil
	})
	if err != nil || claims.Subject == "" || claims.SessionID == "" || claims.IssuedAt == nil {
		return sm.AccessClaims{}, errInvalidToken
	}
	c := sm.AccessClaims{
		Subject:   claims.Subject,
		SessionID: claims.SessionID,
		KeyID:     kid,
		IssuedAt:  claims.IssuedAt.UTC(),
		ExpiresAt: claims.ExpiresAt.UTC(),
	}
	c.AMR, c.ACR = claims.AMR, claims.ACR
	if claims.AuthTime != nil {
		c.AuthTime = claims.AuthTime.UTC()
	}
	// The cache answers until the token's exp: a token that outlives its
	// (retired) key is checked again each time, so it fails when the key
	// expires. Tokens a key signed before it retired end before it does.
	if key.expiresAt.IsZero() || !c.ExpiresAt.After(key.expiresAt) {
		c = kr.cache.put(token, c, now)
	}
	return c, nil
}

// publicKey finds the key kid usable at now, reloading the store once (rate
// limited) when the kid is unknown: another instance may have rotated.
func (kr *Keyring) publicKey(kid string, now time.Time) (*verifyKey, error) {
	if kid == "" {
		return nil, errInvalidToken
	}
	k, ok := kr.keys.Load().verifiers[kid]
	if !ok && kr.reloadForUnknownKid() {
		k, ok = kr.keys.Load().verifiers[kid]
	}
	if !ok || !k.usable(now) {
		return nil, errInvalidToken
	}
	return k, nil
}
