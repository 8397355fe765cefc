package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const (
	cookieName = "sm_admin"
	// csrfPrefix derives the anti-forgery token from the cookie's token
	// under the keyed lookup hash: only pages we render know it, and the
	// stored hash of the session does not reveal it.
	csrfPrefix = "sm-admin-csrf/v1:"
)

// adminSession is the signed-in dashboard session of a request.
type adminSession struct {
	*sm.AdminSession
	// CSRF is the session's anti-forgery token.
	CSRF string
}

type ctxKey int

const (
	adminKey ctxKey = iota
	sessKey
)

func adminFrom(ctx context.Context) *sm.Admin {
	a, _ := ctx.Value(adminKey).(*sm.Admin)
	return a
}

func sessionFrom(ctx context.Context) *adminSession {
	s, _ := ctx.Value(sessKey).(*adminSession)
	return s
}

func csrfFrom(ctx context.Context) string {
	if s := sessionFrom(ctx); s != nil {
		return s.CSRF
	}
	return ""
}

// readSession returns the live dashboard session of the request's cookie:
// nil when missing, unknown, ended (signed out, terminated, idle, expired)
// on any instance. err is for system failures only.
func (s *server) readSession(r *http.Request) (*adminSession, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	check := s.d.Core.SignIn.CheckAdminSession
	if background(r) {
		check = s.d.Core.SignIn.PeekAdminSession
	}
	as, err := check(r.Context(), c.Value)
	if sm.ErrorCode(err) == sm.EUNAUTHORIZED {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &adminSession{AdminSession: as, CSRF: base64.RawURLEncoding.EncodeToString(s.d.Secrets.LookupHash(csrfPrefix + c.Value))}, nil
}

// background reports whether a request is the page's own doing (the live
// stream, the automatic refresh of live regions) rather than the admin's:
// it does not keep the session from going idle.
func background(r *http.Request) bool {
	return r.URL.Path == "/admin/events" || r.Header.Get("X-SM-Background") == "1"
}

// startSession records a new dashboard session and sets its cookie, which
// holds only the session's random token.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, adminID string) error {
	token, as, err := s.d.Core.SignIn.StartAdminSession(r.Context(), adminID, sm.ClientInfo{IP: s.clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		return err
	}
	s.d.Cookies.Set(w, r, &http.Cookie{Name: cookieName, Value: token, Path: "/admin",
		Expires: as.ExpiresAt, MaxAge: int(as.ExpiresAt.Sub(as.CreatedAt) / time.Second)})
	return nil
}

func (s *server) clearSession(w http.ResponseWriter, r *http.Request) {
	s.d.Cookies.Clear(w, r, cookieName, "/admin")
}

// requireAdmin lets only signed-in admins through; others go to the sign-in
// page (or get 401 for htmx and event-stream requests).
func (s *server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		as, err := s.readSession(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		var admin *sm.Admin
		if as != nil {
			a, err := s.d.Core.SignIn.Admin(r.Context(), as.AdminID)
			if err != nil && !sm.IsNotFound(err) {
				s.serverError(w, r, err)
				return
			}
			if a != nil && !a.Disabled() {
				admin = a
			}
		}
		if admin == nil {
			if r.Header.Get("HX-Request") != "" || r.URL.Path == "/admin/events" {
				w.Header().Set("HX-Redirect", "/admin/login")
				http.Error(w, "sign in required", http.StatusUnauthorized)
				return
			}
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = "/admin/" // a form posted after the sign-in expired is not replayed
			}
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		// The admin acts from here on: the core audits their actions
		// naming them (id and email).
		ctx := sm.WithActor(r.Context(), s.actor(r, admin))
		ctx = context.WithValue(ctx, adminKey, admin)
		ctx = context.WithValue(ctx, sessKey, as)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// permission is what a dashboard request needs of the admin's role: the
// team pages need PermTeam; reading needs PermRead; every other change
// needs PermWrite, except the admin's own account and sign-out, which any
// role may do. This is the one place the dashboard decides it (the admin
// API's is the token scope of each route; sm.RoleAllows maps both).
func permission(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/admin/team" || strings.HasPrefix(p, "/admin/team/"):
		return sm.PermTeam
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return sm.PermRead
	case p == "/admin/logout" || strings.HasPrefix(p, "/admin/account/"):
		return sm.PermRead
	}
	return sm.PermWrite
}

// requireRole refuses a request the admin's role does not allow (403).
func (s *server) requireRole(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := adminFrom(r.Context())
		if a == nil || !sm.RoleAllows(a.Role, permission(r)) {
			s.renderError(w, r, http.StatusForbidden, "Not allowed for your role",
				"Your role ("+roleName(a)+") cannot do this. An owner can change your role on the Team page.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func roleName(a *sm.Admin) string {
	if a == nil {
		return "none"
	}
	return a.Role
}

// requireCSRF refuses a state-changing request without the session's token
// in the X-CSRF-Token header or the csrf form field (403). Cross-origin
// requests were already refused by http.CrossOriginProtection (Origin and
// Sec-Fetch-Site).
func (s *server) requireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		want := csrfFrom(r.Context())
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			got = r.PostFormValue("csrf")
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.renderError(w, r, http.StatusForbidden, "Request refused", "The form was stale or did not come from this dashboard. Reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// safeNext keeps a post-sign-in redirect inside the dashboard: a local
// path that, cleaned of dot segments, lies under /admin/; no scheme, host,
// "//", backslash, control character or percent-encoded slash, backslash,
// dot or percent (the tricks that make a browser or a proxy read another
// path than the one checked). Anything else is /admin/.
func safeNext(next string) string {
	const home = "/admin/"
	rawPath, _, _ := strings.Cut(next, "?")
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.Contains(rawPath, "//") {
		return home
	}
	for _, c := range next {
		if c == '\\' || c < 0x20 || c == 0x7f {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	lower := strings.ToLower(rawPath)
	for _, enc := range []string{"%2f", "%5c", "%2e", "%25", "%00"} {
		if strings.Contains(lower, enc) {
			return home
		}
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, home) || strings.HasPrefix(clean, "/admin/login") || strings.HasPrefix(clean, "/admin/events") {
		return home
	}
	out := (&url.URL{Path: clean}).EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}
