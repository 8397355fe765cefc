package httpapi

import (
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// SessionCookie is the cookie forward auth also accepts an access token from.
const SessionCookie = "msm_session"

// handleVerify is forward auth for reverse proxies (nginx auth_request,
// Traefik ForwardAuth, Caddy forward_auth): 200 with identity headers, or
// 401 with the reason header. It is the hot path: no store round trip.
func (s *server) handleVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := sm.BearerToken(r)
		if tok == "" {
			if c, err := r.Cookie(SessionCookie); err == nil {
				tok = c.Value
			}
		}
		if tok == "" {
			sm.WriteError(w, &sm.Error{Code: sm.EUNAUTHORIZED, Message: "Missing or invalid credentials", Reason: "missing_token"})
			return
		}
		p, err := s.Manager.Authenticate(r.Context(), tok)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h := w.Header()
		h.Set("X-Session-Id", p.SessionID)
		h.Set("X-User-Id", p.UserID)
		if s.VerifyEmailHeader && p.Email != "" {
			h.Set("X-User-Email", p.Email) // from the cached session state: no store read
		}
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}
