package sessionmanager

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DPoP (RFC 9449, proof of possession) is opt-in per client: a sign-in that
// carries a valid proof opens a session bound to the proof's key, whose
// access tokens carry the key's thumbprint (cnf.jkt) and whose refresh
// needs a proof by that key. Bearer clients are untouched: their only cost
// on the hot path is checkProof's empty-string test.

// Limits of a DPoP proof.
const (
	// DefaultDPoPWindow is how far a proof's iat may be from the server's
	// clock, either way (Config.DPoPWindow). A proof is usable that long,
	// and its jti is remembered twice that long.
	DefaultDPoPWindow = 60 * time.Second
	// MaxDPoPProofLen bounds the DPoP header: a proof with an RSA-4096 key
	// is about 1.5 KiB.
	MaxDPoPProofLen = 8 << 10
	// MaxDPoPJTILen bounds a proof's jti (the replay key).
	MaxDPoPJTILen = 256
)

// ReasonInvalidDPoPProof is the reason of every refused DPoP proof (RFC 9449
// §7.1's error code); the message says what was wrong.
const ReasonInvalidDPoPProof = "invalid_dpop_proof"

// DPoPAlgorithms are the proof signature algorithms accepted (asymmetric
// only), as the WWW-Authenticate algs parameter lists them.
const DPoPAlgorithms = "ES256 ES384 EdDSA RS256 PS256"

// InvalidProof is the 401 of a refused DPoP proof, with why.
func InvalidProof(why string) *Error {
	return &Error{Code: EUNAUTHORIZED, Message: "Invalid DPoP proof: " + why, Reason: ReasonInvalidDPoPProof}
}

// DPoPProof is a DPoP proof JWT whose form and signature a ProofParser
// checked: what remains is to match it with the request.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's jwk header,
	// base64url without padding.
	JKT      string
	ID       string // jti
	Method   string // htm
	URL      string // htu
	IssuedAt time.Time
	// AccessTokenHash is ath: base64url(SHA-256(access token)); "" when
	// the proof names no token (sign-in, refresh).
	AccessTokenHash string
}

// ProofParser checks a DPoP proof's form and signature: typ dpop+jwt, an
// asymmetric alg, a public jwk header and a signature by that key, with
// jti, htm, htu and iat present. Every failure is an InvalidProof. The
// token package's Keyring is one.
type ProofParser interface {
	ParseProof(proof string) (DPoPProof, error)
}

// checkProof checks a bound access token's DPoP proof (RFC 9449): a token
// whose claims carry a key thumbprint needs a proof by that key for this
// request. Unbound tokens pass, and so does a bound one when client is nil
// (Check: the caller checks the proof itself, from Claims.JKT).
func (m *Manager) checkProof(ctx context.Context, accessToken string, claims *AccessClaims, client *ClientInfo, now time.Time) error {
	if client == nil {
		return nil
	}
	switch scheme := client.DPoP.Scheme; {
	case claims.JKT == "" && strings.EqualFold(scheme, "DPoP"):
		return &Error{Code: EUNAUTHORIZED, Message: "This token is not bound to a key: send it as \"Authorization: Bearer\"", Reason: "invalid_token"}
	case claims.JKT == "":
		return nil
	case strings.EqualFold(scheme, "Bearer"):
		return &Error{Code: EUNAUTHORIZED, Message: "This token is bound to a key (DPoP): send it as \"Authorization: DPoP\" with a proof", Reason: "invalid_token"}
	}
	_, err := m.verifyProof(ctx, client.DPoP, claims.JKT, accessToken, now)
	return err
}

// verifyProof checks in as a proof for its request at now, by the key jkt
// names (any key when jkt is ""), for accessToken when not "" (ath), and
// spends its jti: a proof is good once, on every instance sharing the
// Replay counter. It returns the proof key's thumbprint.
func (m *Manager) verifyProof(ctx context.Context, in ProofInput, jkt, accessToken string, now time.Time) (string, error) {
	switch {
	case in.Invalid != "":
		return "", InvalidProof(in.Invalid)
	case in.Proof == "":
		return "", InvalidProof("this token is bound to a key (DPoP); the request needs a DPoP proof header")
	case len(in.Proof) > MaxDPoPProofLen:
		return "", InvalidProof("the DPoP header is too long")
	case m.proofs == nil:
		return "", InvalidProof("DPoP is not supported by this server's token issuer")
	}
	p, err := m.proofs.ParseProof(in.Proof)
	if err != nil {
		return "", err
	}
	if p.Method != in.Method {
		return "", InvalidProof("htm does not match the request's method")
	}
	if !SameProofURL(p.URL, in.URL) {
		return "", InvalidProof("htu does not match the request's URL")
	}
	if d := now.Sub(p.IssuedAt); d > m.cfg.DPoPWindow || d < -m.cfg.DPoPWindow {
		return "", InvalidProof("iat is too far from the server's time")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		var want [43]byte
		base64.RawURLEncoding.Encode(want[:], sum[:])
		if subtle.ConstantTimeCompare([]byte(p.AccessTokenHash), want[:]) != 1 {
			return "", InvalidProof("ath does not match the access token")
		}
	}
	if jkt != "" && subtle.ConstantTimeCompare([]byte(p.JKT), []byte(jkt)) != 1 {
		return "", InvalidProof("the proof is signed by another key than the token is bound to")
	}
	// Last, once everything else holds: only a holder of the key can
	// spend jti slots, so a flood of made-up proofs fills nothing.
	// Config.Replay fails closed: no per-instance fallback.
	n, err := m.replay.Incr(ctx, "dpop:"+p.JKT+":"+p.ID, 2*m.cfg.DPoPWindow)
	if err != nil {
		return "", WrapError(EUNAVAILABLE, "DPoP proofs cannot be checked right now; try again", err)
	}
	if n > 1 {
		return "", InvalidProof("this proof was already used (jti replay)")
	}
	return p.JKT, nil
}

// ProofHeader is r's DPoP header: the proof, or why the header is refused
// (RFC 9449 §4.3: exactly one DPoP header; a comma means a list).
func ProofHeader(r *http.Request) (proof, invalid string) {
	vs := r.Header.Values("DPoP")
	switch {
	case len(vs) == 0:
		return "", ""
	case len(vs) > 1:
		return "", "more than one DPoP header"
	case strings.Contains(vs[0], ","):
		return "", "the DPoP header holds a list (a comma); send one proof"
	}
	return vs[0], ""
}

// bindSession binds s to the key of the sign-in's DPoP proof, if the client
// sent one (checked like any proof: for the sign-in request, fresh, unused).
func (m *Manager) bindSession(ctx context.Context, s *Session, client ClientInfo, now time.Time) error {
	if client.DPoP.Proof == "" && client.DPoP.Invalid == "" {
		return nil
	}
	jkt, err := m.verifyProof(ctx, client.DPoP, "", "", now)
	if err != nil {
		return err
	}
	s.DPoPJKT = jkt
	return nil
}

// checkRefreshProof holds a bound session's refresh to a proof by its key;
// a bearer session's refresh needs none (and stays a bearer session).
func (m *Manager) checkRefreshProof(ctx context.Context, s *Session, client ClientInfo, now time.Time) error {
	if s.DPoPJKT == "" {
		return nil
	}
	_, err := m.verifyProof(ctx, client.DPoP, s.DPoPJKT, "", now)
	return err
}

// SameProofURL compares a proof's htu with the request's URL as RFC 9449
// §4.3 asks: scheme and host case-insensitive, the scheme's default port
// implied, an empty path as "/", query and fragment ignored.
func SameProofURL(htu, requestURL string) bool {
	a, ok := normalProofURL(htu)
	if !ok {
		return false
	}
	b, ok := normalProofURL(requestURL)
	return ok && a == b
}

// normalProofURL is the comparable form of an absolute http(s) URL.
func normalProofURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}
