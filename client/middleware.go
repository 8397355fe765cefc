package client

import (
	"context"
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type claimsKey struct{}

// ClaimsFrom returns the verified claims the Middleware put in a request context.
func ClaimsFrom(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// Middleware verifies the bearer access token of every request and puts
// the Claims in the request context; other requests get the server's 401
// (with X-Session-Terminated-Reason for an ended session). A DPoP-bound
// token is refused (401 invalid_dpop_proof): proofs are not checked here.
func (c *Client) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := sm.BearerToken(r)
		if tok == "" {
			sm.WriteError(w, &sm.Error{Code: sm.EUNAUTHORIZED, Message: "Missing or invalid credentials", Reason: "missing_token"})
			return
		}
		claims, err := c.Verify(r.Context(), tok)
		if err != nil {
			sm.WriteError(w, err)
			return
		}
		if claims.JKT != "" {
			// Offline, a bound token would pass as a bearer token: refuse
			// it rather than drop the binding silently.
			sm.WriteError(w, sm.InvalidProof("this token is bound to a key (DPoP), and this verifier does not check proofs: check it with the service's introspection (dpop_proof, htm, htu)"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}
