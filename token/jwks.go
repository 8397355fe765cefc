package token

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
)

// jwk is one public key of the JWKS (RFC 8037 OKP key).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the JSON Web Key Set of the keys that verify now: the key
// that signs, the next one of a rotation under way (published a lead time
// before it signs) and retired keys whose tokens may still be live.
func (kr *Keyring) JWKS() []byte {
	now := kr.cfg.Now()
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range kr.keys.Load().ordered {
		if !k.usable(now) {
			continue
		}
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(k.public),
			Kid: k.id,
			Alg: algEdDSA,
			Use: "sig",
		})
	}
	out, _ := json.Marshal(set) // cannot fail: plain strings only
	return out
}

// ServeJWKS serves JWKS (for /.well-known/jwks.json), cacheable
// Config.JWKSMaxAge (5 minutes by default): a rotation publishes the next
// key longer than that before it signs.
func (kr *Keyring) ServeJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body := kr.JWKS()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(kr.cfg.JWKSMaxAge.Seconds())))
		w.Write(body)
	})
}
