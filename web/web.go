package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Deps are what the dashboard needs. Core (every field but Tokens) and
// Secrets are required.
type Deps struct {
	// Core is every admin use case the dashboard calls (sm.AdminCore:
	// small interfaces, usually all the Manager). The dashboard reads no
	// store and audits nothing itself: the core does.
	Core    sm.AdminCore
	Secrets AntiForgeryKey // derives the anti-forgery token (sm.Secrets is one)
	Bus     sm.Bus         // live updates; nil: polling only
	Alerts  sm.AlertRules  // Manager.AlertRules; nil hides the alert rules and deliveries UI
	License func() LicenseInfo
	// Demo shows a "Demo data" banner on every page.
	Demo   bool
	Logger *slog.Logger
	Now    func() time.Time
	// ClientIP returns the client address of a request (trusted-proxy
	// aware); nil uses the socket address.
	ClientIP func(r *http.Request) netip.Addr
	// Cookies decides the attributes of every cookie the dashboard sets
	// (sm.CookiePolicy: Secure always in production).
	Cookies sm.CookiePolicy
	// MaxSSEClients bounds concurrent live-update streams (default 100).
	MaxSSEClients int
	// UserAgents names the browsers of the admin's own sign-ins; nil
	// shows "unknown browser".
	UserAgents sm.UserAgentParser
	// PublicURL is the service's public base URL (SM_PUBLIC_URL) for the
	// links in invitation emails; "" uses the inviting owner's address.
	PublicURL string
	// InitialPasswordFile is the file the first start wrote the first
	// admin's password to: a banner asks to change the password and
	// delete it while it exists.
	InitialPasswordFile string
}

// AntiForgeryKey derives the dashboard's anti-forgery token from the
// session cookie. It is all the dashboard holds of the service's secrets:
// it opens nothing sealed (the core checks TOTP codes).
type AntiForgeryKey interface {
	LookupHash(token string) []byte
}

// LicenseInfo is the licence status shown in the dashboard.
type LicenseInfo struct {
	Edition  string // Free, Premium, Advanced
	Licensee string
	Expires  time.Time // zero: no expiry
	// Status is a short human text, e.g. "valid" or "expired 3 days ago".
	Status string
	Valid  bool
}

// server holds the dashboard's dependencies and templates.
type server struct {
	d     Deps
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*pageTemplate
	hub   *hub
	cop   *http.CrossOriginProtection
}

// New returns the handler of everything under /admin/; mount it with
// mux.Handle("/admin/", h).
func New(d Deps) (http.Handler, error) {
	c := d.Core
	if c.Sessions == nil || c.Users == nil || c.Audit == nil || c.Stats == nil || c.Settings == nil || c.SignIn == nil ||
		c.AdminSessions == nil || c.Status == nil || d.Secrets == nil {
		return nil, errors.New("web: Deps needs Core (every use case but Tokens) and Secrets")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = sm.SystemClock{}.Now
	}
	if d.MaxSSEClients <= 0 {
		d.MaxSSEClients = 100
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &server{
		d: d, log: d.Logger, now: d.Now, pages: pages,
		hub: newHub(d.Bus, d.MaxSSEClients),
		cop: http.NewCrossOriginProtection(),
	}
	return s.routes(), nil
}

// license returns the licence status; Free without a licence function.
func (s *server) license() LicenseInfo {
	if s.d.License == nil {
		return LicenseInfo{Edition: "Free", Status: "No licence key: Free edition", Valid: true}
	}
	return s.d.License()
}

// firstRunFile is the initial password file while it exists, else "".
func (s *server) firstRunFile() string {
	if s.d.InitialPasswordFile == "" {
		return ""
	}
	if _, err := os.Stat(s.d.InitialPasswordFile); err != nil {
		return ""
	}
	return s.d.InitialPasswordFile
}

// clientIP is the address recorded for admin actions.
func (s *server) clientIP(r *http.Request) netip.Addr {
	if s.d.ClientIP != nil {
		return s.d.ClientIP(r)
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// actor is the signed-in admin as the audit log names them: id and email.
func (s *server) actor(r *http.Request, a *sm.Admin) sm.Actor {
	act := sm.Actor{Type: sm.ActorAdmin, ID: a.ID, Email: a.Email}
	if ip := s.clientIP(r); ip.IsValid() {
		act.IP = ip.String()
	}
	return act
}
