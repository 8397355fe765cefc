// Package httpapi is the HTTP face of Magic Session Manager: the
// Strapi-shaped auth API, self-service sessions, the admin API, forward
// auth, JWKS, health and metrics. Every route is in routes.go.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Deps are what the server needs; cmd/sessionmanager wires them.
type Deps struct {
	// Manager answers the end users' auth API (login, refresh, logout,
	// self-service sessions, magic links, forward auth): the hot path.
	Manager *sm.Manager
	// Core is every admin use case the admin API calls (sm.AdminCore:
	// small interfaces, usually all the Manager). The admin handlers call
	// nothing else: no store, no auditing of their own. A use case left
	// nil is the Manager's (Manager.AdminCore), so a zero Core is the
	// Manager's whole admin core. Core.License serves /api/admin/license
	// when set.
	Core sm.AdminCore
	// JWKS serves /.well-known/jwks.json.
	JWKS http.Handler
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	Metrics        *Metrics
	// Background runs the emails sent after their responses; whoever runs
	// the server calls its Shutdown when stopping, so they are not lost.
	// nil: one of the server's own, never drained.
	Background *Background
	// Ready reports whether the service can serve (store reachable...).
	Ready func(ctx context.Context) error
	// Admin is the dashboard, mounted at /admin/ when set.
	Admin http.Handler
	// Geo answers GET /api/admin/geo/{ip}; nil answers it with what is
	// known without data (the route always exists).
	Geo sm.GeoResolver
	// Alerts serves /api/admin/alerts/... when set.
	Alerts sm.AlertRules
	// Mount adds routes owned by other packages (licence...).
	Mount func(mux *http.ServeMux, admin func(scope string, h http.Handler) http.Handler)
	// RefreshCookie, when set, also issues the refresh token as an
	// HttpOnly cookie of that name, accepts it on refresh and clears it on logout.
	RefreshCookie string
	// Cookies decides the attributes of every cookie the API sets
	// (sm.CookiePolicy: Secure always in production).
	Cookies sm.CookiePolicy
	// VerifyHeaders lists the identity headers forward auth answers with.
	VerifyEmailHeader bool
	// Version is reported by /healthz.
	Version string
	// PublicURL is where clients reach this service (SM_PUBLIC_URL, no
	// trailing slash): the URL DPoP proofs of API requests name. "": the
	// URL the request arrived with.
	PublicURL string

	// Integrations (integrations.go). MagicLinks enables passwordless login
	// when set; Issuer and Audience are reported by token introspection.
	MagicLinks       *MagicLinkConfig
	Issuer, Audience string
	// Accounts enables the confirmation and password-reset emails
	// (accounts.go); nil: those two requests answer 503.
	Accounts *AccountMailConfig
}

// server holds the dependencies for the handlers.
type server struct {
	Deps
	log *slog.Logger
	// mailSlots bounds the account emails being sent at once.
	mailSlots chan struct{}
	// background runs the emails after their responses.
	background *Background
}

// NewServer returns the whole HTTP API as one handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Manager != nil {
		d.Core = withDefaults(d.Core, d.Manager.AdminCore())
	}
	s := &server{Deps: d, log: d.Logger, mailSlots: make(chan struct{}, 32), background: d.Background}
	if s.background == nil {
		s.background = NewBackground(d.Logger)
	}
	if d.Metrics != nil && d.Manager != nil {
		d.Metrics.observeGeo(d.Manager)
	}
	mux := http.NewServeMux()
	s.routes(mux)
	var h http.Handler = mux
	h = s.recoverer(h)
	if d.Metrics != nil {
		h = d.Metrics.instrument(h)
	}
	return h
}

// withDefaults is c with every nil use case taken from def.
func withDefaults(c, def sm.AdminCore) sm.AdminCore {
	c.Sessions, c.Users, c.Audit = orDefault(c.Sessions, def.Sessions), orDefault(c.Users, def.Users), orDefault(c.Audit, def.Audit)
	c.Stats, c.Settings, c.Tokens = orDefault(c.Stats, def.Stats), orDefault(c.Settings, def.Settings), orDefault(c.Tokens, def.Tokens)
	c.SignIn, c.AdminSessions = orDefault(c.SignIn, def.SignIn), orDefault(c.AdminSessions, def.AdminSessions)
	c.Status, c.License = orDefault(c.Status, def.Status), orDefault(c.License, def.License)
	c.Security = orDefault(c.Security, def.Security)
	return c
}

// orDefault is v, or def when v is nil.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// recoverer turns a panic into a logged 500 instead of a dropped connection.
// It also warns, once, when X-Forwarded-For arrives from a peer that is not
// a trusted proxy: behind an untrusted proxy every client shares its address
// (and its failed-login count).
func (s *server) recoverer(next http.Handler) http.Handler {
	var warned atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-For") != "" && !isTrusted(socketAddr(r.RemoteAddr), s.TrustedProxies) {
			// The core counts it for the configuration warnings (API,
			// dashboard, metrics); the log says it once.
			if s.Manager != nil {
				s.Manager.NoteUntrustedForwardedFor(socketAddr(r.RemoteAddr))
			}
			if !warned.Load() && warned.CompareAndSwap(false, true) {
				s.log.Warn("X-Forwarded-For from a peer not in SM_TRUSTED_PROXIES is ignored: if this is your proxy, add it, or every client is seen with its address",
					"peer", socketAddr(r.RemoteAddr).String())
			}
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", v)
				sm.WriteError(w, sm.Errorf(sm.EINTERNAL, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// fail writes err; unexpected errors are logged with detail and answered
// as "internal error".
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch sm.ErrorCode(err) {
	case sm.EINTERNAL:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case sm.EUNAVAILABLE:
		s.log.Warn("request refused: a dependency is unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	sm.WriteError(w, err)
}

// clientInfo is who sent r: the address (trusted proxies only), the user
// agent and the trusted-device cookie, if any (a login's deviceToken field
// replaces it).
func (s *server) clientInfo(r *http.Request) sm.ClientInfo {
	c := s.requestClient(r)
	if ck, err := r.Cookie(DeviceCookie); err == nil {
		c.DeviceToken = ck.Value
	}
	return c
}

// requestClient is what an authenticated use tells about its client: the
// address (through trusted proxies), the User-Agent and the DPoP proof;
// the caller that read the token sets DPoP.Scheme.
func (s *server) requestClient(r *http.Request) sm.ClientInfo {
	c := sm.ClientInfo{IP: ClientIP(r, s.TrustedProxies), UserAgent: r.UserAgent()}
	if p, bad := sm.ProofHeader(r); p != "" || bad != "" {
		method, url, disagree := s.proofRequest(r)
		if bad == "" {
			bad = disagree
		}
		c.DPoP = sm.ProofInput{Proof: p, Method: method, URL: url, Invalid: bad}
	}
	return c
}

// proofRequest is the request a DPoP proof of r must name (htm, htu): the
// one the client made. From a trusted proxy asking forward auth, that is
// the original request the proxy names: X-Original-Method and
// X-Original-URL (nginx auth_request conventions, ingress-nginx), or
// X-Forwarded-Method, -Proto, -Host and -Uri (Traefik, Caddy; -Uri may be
// nginx's X-Original-URI). Otherwise it is r itself, at
// the public URL (SM_PUBLIC_URL) when one is set, since behind a proxy
// the Host and scheme r arrived with are not the ones the client used.
//
// Traefik and Caddy set the X-Forwarded-* set and pass a client's own
// X-Original-* headers through (and an nginx config may do the reverse),
// so when both sets name a method or URL and they disagree, one of them
// is the client's: disagree says so and the proof is refused.
func (s *server) proofRequest(r *http.Request) (method, url, disagree string) {
	method = r.Method
	if !isTrusted(socketAddr(r.RemoteAddr), s.TrustedProxies) {
		return method, s.publicRequestURL(r), ""
	}
	h := r.Header
	om, fm := h.Get("X-Original-Method"), h.Get("X-Forwarded-Method")
	if om != "" && fm != "" && om != fm {
		return method, "", "the proxy's X-Original-Method and X-Forwarded-Method disagree"
	}
	if m := firstHeader(h, "X-Original-Method", "X-Forwarded-Method"); m != "" {
		method = m
	}
	ou := h.Get("X-Original-URL")
	proto, host, uri := h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"), firstHeader(h, "X-Forwarded-Uri", "X-Original-URI")
	fu := ""
	if proto != "" && host != "" && uri != "" {
		if i := strings.IndexAny(uri, "?#"); i >= 0 {
			uri = uri[:i]
		}
		fu = proto + "://" + host + uri
	}
	switch {
	case ou != "" && fu != "" && !sm.SameProofURL(ou, fu):
		return method, "", "the proxy's X-Original-URL and X-Forwarded-Proto/Host/Uri disagree"
	case ou != "":
		return method, ou, "" // SameProofURL ignores its query
	case fu != "":
		return method, fu, ""
	}
	return method, s.publicRequestURL(r), ""
}

// publicRequestURL is r's URL as the client reached it: SM_PUBLIC_URL and
// r's path, or (no public URL) as this server saw it.
func (s *server) publicRequestURL(r *http.Request) string {
	if s.PublicURL == "" {
		return sm.RequestURL(r)
	}
	return s.PublicURL + r.URL.EscapedPath()
}

// firstHeader is the first of names that h has a value for.
func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func (s *server) now() time.Time { return s.Manager.Now() }
