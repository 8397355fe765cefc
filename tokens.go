package sessionmanager

import (
	"context"
	"time"
)

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	Subject   string // user id
	SessionID string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AuthContext is the session's auth_time, amr and acr when the token
	// was issued.
	AuthContext
	// JKT is the cnf.jkt claim (RFC 9449): the thumbprint of the key the
	// token is bound to; "" for a bearer token.
	JKT string
}

// AccessTokens issues and verifies access tokens (EdDSA JWTs).
type AccessTokens interface {
	// Issue signs a token for subject's session sessionID carrying auth
	// (auth_time, amr, acr) and, when jkt is not "", the DPoP key binding
	// cnf.jkt (RFC 9449).
	Issue(ctx context.Context, subject, sessionID string, auth AuthContext, jkt string, now time.Time) (token string, c AccessClaims, err error)
	// Verify checks signature, algorithm, kid, iss, aud, typ and exp at now.
	// Every invalid token gets the same error (EUNAUTHORIZED).
	Verify(token string, now time.Time) (AccessClaims, error)
}

// Secrets makes and protects opaque secrets: refresh tokens, link tokens,
// admin tokens. Lookup hashes are HMAC-SHA256; sealing is AES-256-GCM with a
// key id so keys can rotate.
type Secrets interface {
	// NewToken returns a fresh 256-bit random token (URL-safe) and its lookup hash.
	NewToken() (token string, lookup []byte, err error)
	// LookupHash is the HMAC-SHA256 of token under the lookup key.
	LookupHash(token string) []byte
	// ValidToken reports whether s has the shape of NewToken's tokens: a
	// cheap refusal of anything else before any hashing or lookup.
	ValidToken(s string) bool
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// PasswordHasher hashes passwords (argon2id).
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches the encoded hash, in constant time.
	Verify(encoded, password string) (bool, error)
}

// UserAgentParser parses a raw User-Agent header.
type UserAgentParser interface {
	Parse(ua string) Device
}

// AlertInput is what alert rules see of an event.
type AlertInput struct {
	Event *Event
	User  *User
	// Session is nil for a blocked login.
	Session    *Session
	Location   Location
	Threat     Threat
	Device     Device
	Assessment *Assessment
	// Previous is the user's session before this one, nil if none.
	Previous *Session
	// Anomaly is the move of a session.anomaly event, nil for others.
	Anomaly *SessionAnomaly
}

// Alerter turns an event into the deliveries that are written to the outbox
// in the same transaction as the event. It must be fast (no I/O but reading
// cached rules): delivery happens later, off the request path.
type Alerter interface {
	Deliveries(ctx context.Context, in AlertInput) ([]*Delivery, error)
}
