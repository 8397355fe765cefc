// Package client lets a Go service verify Magic Session Manager access
// tokens locally: it fetches the server's JWKS (cached, refetched on an
// unknown key id, rate limited), verifies EdDSA JWTs with a pinned
// algorithm and the iss, aud, typ and exp checks, and follows the server's
// revocation feed so that a force-logged-out session is refused before its
// access token expires.
//
//	c, err := client.New(client.Config{BaseURL: "https://sessions.internal", ServiceToken: os.Getenv("MSM_SERVICE_TOKEN")})
//	go c.Run(ctx) // the revocation feed
//	http.Handle("/", c.Middleware(app))
package client
