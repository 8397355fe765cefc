package token

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math"
	"time"

	"github.com/go-jose/go-jose/v4"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// typDPoPProof is the JWT typ of a DPoP proof (RFC 9449 §4.2).
const typDPoPProof = "dpop+jwt"

// dpopAlgorithms are the proof algorithms accepted: asymmetric only (a
// symmetric or "none" proof proves nothing), as sm.DPoPAlgorithms lists them.
var dpopAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.RS256, jose.PS256}

// minRSABits refuses RSA proof keys too small to mean anything.
const minRSABits = 2048

var _ sm.ProofParser = (*Keyring)(nil)

// dpopClaims is a DPoP proof's payload.
type dpopClaims struct {
	JTI string   `json:"jti"`
	HTM string   `json:"htm"`
	HTU string   `json:"htu"`
	IAT *float64 `json:"iat"`
	ATH string   `json:"ath"`
}

// ParseProof checks a DPoP proof JWT's form and signature (RFC 9449 §4.3,
// the steps that need no request): compact JWS, typ dpop+jwt, an
// asymmetric alg, a jwk header with a public key only, the signature by
// that key, and jti, htm, htu and iat present. The caller matches htm,
// htu, iat, ath and the key's thumbprint with the request.
func (kr *Keyring) ParseProof(proof string) (sm.DPoPProof, error) {
	return ParseProof(proof)
}

// ParseProof is Keyring.ParseProof: a proof needs no key of ours.
func ParseProof(proof string) (sm.DPoPProof, error) {
	if proof == "" || len(proof) > sm.MaxDPoPProofLen {
		return sm.DPoPProof{}, sm.InvalidProof("the DPoP header is empty or too long")
	}
	jws, err := jose.ParseSignedCompact(proof, dpopAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return sm.DPoPProof{}, sm.InvalidProof("not a compact JWS signed with one of " + sm.DPoPAlgorithms)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != typDPoPProof {
		return sm.DPoPProof{}, sm.InvalidProof("typ must be dpop+jwt")
	}
	jwk := h.JSONWebKey
	// go-jose already refuses a private key in an embedded jwk header
	// (ParseSignedCompact); IsPublic is defence in depth, relied on only
	// if that changes (no test can reach it through go-jose today).
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return sm.DPoPProof{}, sm.InvalidProof("the jwk header must hold a public key")
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return sm.DPoPProof{}, sm.InvalidProof("the RSA key is shorter than 2048 bits")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return sm.DPoPProof{}, sm.InvalidProof("the signature does not verify with the jwk header's key")
	}
	var c dpopClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		return sm.DPoPProof{}, sm.InvalidProof("the payload is not a JSON object of claims")
	}
	switch {
	case c.JTI == "" || len(c.JTI) > sm.MaxDPoPJTILen:
		return sm.DPoPProof{}, sm.InvalidProof("jti is missing or too long")
	case c.HTM == "" || c.HTU == "":
		return sm.DPoPProof{}, sm.InvalidProof("htm and htu are required")
	case c.IAT == nil || math.IsNaN(*c.IAT) || math.IsInf(*c.IAT, 0) || *c.IAT < 0 || *c.IAT > 1e11:
		return sm.DPoPProof{}, sm.InvalidProof("iat is missing or not a time")
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return sm.DPoPProof{}, sm.InvalidProof("the jwk header has no thumbprint")
	}
	sec, frac := math.Modf(*c.IAT)
	return sm.DPoPProof{
		JKT: base64.RawURLEncoding.EncodeToString(thumb),
		ID:  c.JTI, Method: c.HTM, URL: c.HTU,
		IssuedAt:        time.Unix(int64(sec), int64(frac*1e9)).UTC(),
		AccessTokenHash: c.ATH,
	}, nil
}
