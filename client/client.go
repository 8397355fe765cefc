package client

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Config configures a Client. BaseURL is required; ServiceToken is needed
// by Run (the revocation feed is for services only).
type Config struct {
	// BaseURL is the session manager's address, e.g. https://sessions.internal.
	BaseURL string
	// ServiceToken is an admin API token of scope service (msm_...).
	ServiceToken string
	// Issuer and Audience the tokens must carry (default "sessionmanager",
	// the server's SM_ISSUER and SM_AUDIENCE defaults).
	Issuer, Audience string
	// HTTPClient makes the requests (default: a client with a 10s timeout
	// for the JWKS; the feed uses its transport without a timeout).
	HTTPClient *http.Client
	// Leeway for clock skew on exp and iat (default 30s).
	Leeway time.Duration
	// JWKSMaxAge is how long fetched keys are trusted without a refetch
	// (default 10m; less when the JWKS response's Cache-Control max-age,
	// less its Age, says so: the server's is 5m); JWKSMinRefetch
	// rate-limits refetches triggered by unknown key ids or a stale set
	// (default 10s). A withdrawn key is refused at the first refetch
	// after it left the JWKS, cached tokens of it included.
	JWKSMaxAge, JWKSMinRefetch time.Duration
	// RevocationTTL is how long an ended session is remembered; it must be
	// at least the access-token lifetime (default 24h).
	RevocationTTL time.Duration
	Logger        *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Claims are the verified claims of an access token.
type Claims struct {
	Subject   string
	SessionID string
	Issuer    string
	Audience  []string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AuthContext is auth_time, amr and acr: how and when the user last
	// proved who they are. Check a sensitive action with sm.RecentAuth.
	sm.AuthContext
	// JKT is cnf.jkt: the thumbprint of the DPoP key the token is bound
	// to ("" for a bearer token). Such a token is good only with a proof
	// by that key, which this client does not check: Middleware refuses it;
	// a caller of Verify must check the proof or ask introspection.
	JKT string
}

// Client verifies access tokens locally. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	keys *keyCache
	// verified caches the claims of good tokens until they expire, so a
	// token is checked cryptographically once, not on every request.
	verified *claimsCache

	mu      sync.RWMutex
	revoked map[string]revocation
	cursor  int64
	live    bool
}

type revocation struct {
	reason sm.EndReason
	until  time.Time
}

// New checks cfg and returns a Client. It does no I/O: keys are fetched on
// first use.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("client: BaseURL must be an absolute http(s) URL")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "sessionmanager"
	}
	if cfg.Audience == "" {
		cfg.Audience = "sessionmanager"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Leeway, 30*time.Second)
	def(&cfg.JWKSMaxAge, 10*time.Minute)
	def(&cfg.JWKSMinRefetch, 10*time.Second)
	def(&cfg.RevocationTTL, 24*time.Hour)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, base: u, revoked: map[string]revocation{}, verified: newClaimsCache(10000, cfg.Leeway)}
	c.keys = &keyCache{url: u.String() + "/.well-known/jwks.json", http: cfg.HTTPClient, maxAge: cfg.JWKSMaxAge, minRefetch: cfg.JWKSMinRefetch}
	return c, nil
}

// invalidToken is the one answer for every bad token, as on the server.
func invalidToken() *sm.Error {
	return &sm.Error{Code: sm.EUNAUTHORIZED, Message: "Invalid token", Reason: "invalid_token"}
}

// accessClaims are the JWT claims the server issues.
type accessClaims struct {
	jwt.Claims
	SessionID string           `json:"sid"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
	AMR       []string         `json:"amr,omitempty"`
	ACR       string           `json:"acr,omitempty"`
	Cnf       *struct {
		JKT string `json:"jkt"`
	} `json:"cnf,omitempty"`
}

// Verify checks a token: EdDSA only, a known key id, typ at+jwt, the
// signature, iss, aud, a required exp, and that its session was not ended
// (as far as the revocation feed has told). Every failure is an
// EUNAUTHORIZED *sessionmanager.Error; an ended session carries its reason.
func (c *Client) Verify(ctx context.Context, token string) (Claims, error) {
	now := c.cfg.Now()
	claims, ok := c.verified.get(token, now)
	if ok {
		// A cached token is only as good as its key: once a refetched JWKS
		// no longer lists it (withdrawn), the token is refused.
		if _, err := c.keys.get(ctx, claims.KeyID, now); err != nil {
			return Claims{}, keyError(err)
		}
	} else {
		var err error
		if claims, err = c.verify(ctx, token, now); err != nil {
			return Claims{}, err
		}
		c.verified.put(token, claims)
	}
	if reason, ok := c.Revoked(claims.SessionID); ok {
		return Claims{}, sm.SessionTerminated(reason)
	}
	return claims, nil
}

// verify checks the token itself (everything but revocation).
func (c *Client) verify(ctx context.Context, token string, now time.Time) (Claims, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return Claims{}, invalidToken()
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" || h.KeyID == "" {
		return Claims{}, invalidToken()
	}
	key, err := c.keys.get(ctx, h.KeyID, now)
	if err != nil {
		return Claims{}, keyError(err)
	}
	var ac accessClaims
	if err := tok.Claims(key, &ac); err != nil {
		return Claims{}, invalidToken()
	}
	if ac.Expiry == nil || ac.Subject == "" || ac.SessionID == "" ||
		ac.ValidateWithLeeway(jwt.Expected{Issuer: c.cfg.Issuer, AnyAudience: jwt.Audience{c.cfg.Audience}, Time: now}, c.cfg.Leeway) != nil {
		return Claims{}, invalidToken()
	}
	out := Claims{Subject: ac.Subject, SessionID: ac.SessionID, Issuer: ac.Issuer, Audience: ac.Audience, KeyID: h.KeyID, ExpiresAt: ac.Expiry.Time()}
	out.AMR, out.ACR = ac.AMR, ac.ACR
	if ac.Cnf != nil {
		if ac.Cnf.JKT == "" {
			return Claims{}, invalidToken()
		}
		out.JKT = ac.Cnf.JKT
	}
	if ac.AuthTime != nil {
		out.AuthTime = ac.AuthTime.Time().UTC()
	}
	if ac.IssuedAt != nil {
		out.IssuedAt = ac.IssuedAt.Time()
	}
	return out, nil
}

// keyError is the answer to a failed key lookup: an unknown key makes the
// token invalid; a JWKS that cannot be fetched is EUNAVAILABLE.
func keyError(err error) error {
	if errors.Is(err, errUnknownKey) {
		return invalidToken()
	}
	return &sm.Error{Code: sm.EUNAVAILABLE, Message: "signing keys unavailable; try again"}
}

// Revoked reports whether the feed announced the end of a session, and why.
func (c *Client) Revoked(sessionID string) (sm.EndReason, bool) {
	c.mu.RLock()
	r, ok := c.revoked[sessionID]
	c.mu.RUnlock()
	return r.reason, ok
}

// Live reports whether the revocation feed is connected now.
func (c *Client) Live() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live
}
