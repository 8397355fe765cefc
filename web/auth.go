package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const (
	cookieName = "sm_admin"
	// sessionTTL is how long an admin sign-in lasts.
	sessionTTL = 8 * time.Hour
	// cookieAD binds the sealed cookie to its purpose: a value sealed for
	// anything else (a refresh token, a TOTP secret) does not open here.
	cookieAD = "sm-admin-session/v1"
)

// adminSession is the sealed content of the admin cookie.
type adminSession struct {
	AdminID string `json:"a"`
	Expires int64  `json:"e"` // unix seconds
	// CSRF is the per-sign-in anti-forgery token; the cookie is HttpOnly
	// and sealed, so only pages we render know it.
	CSRF string `json:"c"`
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

func csrfFrom(ctx context.Context) string {
	s, _ := ctx.Value(sessKey).(*adminSession)
	if s == nil {
		return ""
	}
	return s.CSRF
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// readSession opens the admin cookie; nil when missing, tampered or expired.
func (s *server) readSession(r *http.Request) *adminSession {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) > 4096 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	plain, err := s.d.Secrets.Open(raw, []byte(cookieAD))
	if err != nil {
		return nil
	}
	var as adminSession
	if json.Unmarshal(plain, &as) != nil || as.AdminID == "" || as.CSRF == "" {
		return nil
	}
	if s.now().Unix() >= as.Expires {
		return nil
	}
	return &as
}

// writeSession seals a new admin session into the cookie.
func (s *server) writeSession(w http.ResponseWriter, r *http.Request, adminID string) error {
	exp := s.now().Add(sessionTTL)
	plain, _ := json.Marshal(adminSession{AdminID: adminID, Expires: exp.Unix(), CSRF: randomToken()})
	sealed, err := s.d.Secrets.Seal(plain, []byte(cookieAD))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/admin",
		Expires: exp, MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: s.secureCookie(r), SameSite: http.SameSiteStrictMode,
	})
	return nil
}

func (s *server) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookie(r), SameSite: http.SameSiteStrictMode})
}

// requireAdmin lets only signed-in admins through; others go to the sign-in
// page (or get 401 for htmx and event-stream requests).
func (s *server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		as := s.readSession(r)
		var admin *sm.Admin
		if as != nil {
			a, err := s.d.Store.AdminByID(r.Context(), as.AdminID)
			if err != nil && !sm.IsNotFound(err) {
				s.serverError(w, r, err)
				return
			}
			admin = a
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
		ctx := context.WithValue(r.Context(), adminKey, admin)
		ctx = context.WithValue(ctx, sessKey, as)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
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

// safeNext keeps a post-sign-in redirect inside the dashboard.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "/admin/login") || strings.HasPrefix(next, "/admin/events") {
		return "/admin/"
	}
	return next
}
