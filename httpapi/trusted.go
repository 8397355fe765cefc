package httpapi

import (
	"context"
	"net/http"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// DeviceCookie is the trusted-device cookie of browsers: HttpOnly, Secure
// (sm.CookiePolicy), SameSite=Lax, sent only to /api/auth. It holds the
// device's random token; the store keeps only its keyed, user-bound hash.
const DeviceCookie = "msm_device"

// rememberDevice trusts the client's device for the user of a login that
// just passed a challenge with rememberDevice, sets the device cookie when
// the request came from a browser, and returns the token for the JSON
// answer's deviceToken ("" when the device could not be remembered: the
// login itself stands).
func (s *server) rememberDevice(w http.ResponseWriter, r *http.Request, res *sm.LoginResult) string {
	u := res.User
	// Named from the device the login parsed (the session's): no second parse.
	g, err := s.Manager.RememberDevice(r.Context(), u, s.clientInfo(r), res.Session.Device)
	if err != nil {
		s.log.Error("trusted device not remembered", "user", u.ID, "err", err)
		return ""
	}
	if fromBrowser(r) {
		// HttpOnly and not in the body too, as the refresh token in
		// cookie-only mode: a script on the page (an XSS) never reads it.
		s.Cookies.Set(w, r, &http.Cookie{Name: DeviceCookie, Value: g.Token, Path: "/api/auth", Expires: g.Device.ExpiresAt, SameSite: http.SameSiteLaxMode})
		return ""
	}
	return g.Token
}

// fromBrowser reports whether a request came from a browser's page (fetch
// and forms send Sec-Fetch-Mode or Origin; API clients send neither).
func fromBrowser(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Mode") != "" || r.Header.Get("Origin") != ""
}

func (s *server) handleMyTrustedDevices() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		ds, err := s.Manager.ListTrustedDevices(r.Context(), p.UserID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": ds})
	})
}

// handleForgetMyTrustedDevices is DELETE /api/users/me/trusted-devices
// (every device) and .../{id} (one; another user's is not found).
func (s *server) handleForgetMyTrustedDevices() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		id := r.PathValue("id")
		if len(id) > 128 || strings.ContainsRune(id, 0) {
			s.fail(w, r, sm.Errorf(sm.ENOTFOUND, "no such trusted device"))
			return
		}
		n, err := s.Manager.ForgetMyTrustedDevices(r.Context(), p, id, s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if id == "" {
			s.Cookies.Clear(w, r, DeviceCookie, "/api/auth")
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "revoked": n})
	})
}

func (s *server) handleAdminTrustedDevices() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Security.UserTrustedDevices(r.Context(), r.PathValue("id"))
	})
}

// countHandler answers {key: n} with the count a user-wide reset returns.
func (s *server) countHandler(key string, fn func(ctx context.Context, userID string) (int, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := fn(r.Context(), r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{key: n})
	})
}

func (s *server) handleAdminFactors() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Security.Factors(r.Context(), r.PathValue("id"))
	})
}

func (s *server) handleAdminChallengeHistory() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Security.ChallengeHistory(r.Context(), r.PathValue("id"), 100)
	})
}
