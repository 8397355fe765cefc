package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type loginData struct {
	Email string
	Next  string
	Error string
}

func (s *server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if as, _ := s.readSession(r); as != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", "Sign in", "", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// handleLogin checks email, password and, when the admin has one, the TOTP
// code. Every failure gets the same answer.
func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	code := r.PostFormValue("code")
	data := loginData{Email: email, Next: safeNext(r.PostFormValue("next"))}
	addr := s.clientIP(r)
	ip := addr.String()
	// Reserved before the password is checked, in the counter every
	// instance shares: a parallel burst cannot all slip under the limit.
	try, err := s.d.Core.SignIn.ReserveAdminSignIn(r.Context(), email, addr)
	if err != nil {
		var se *sm.Error
		if !errors.As(err, &se) || se.Code != sm.ETOOMANY {
			s.serverError(w, r, err)
			return
		}
		w.Header().Set("Retry-After", strconv.Itoa(se.RetryAfterSeconds))
		data.Error = "Too many failed sign-ins. Wait a few minutes and try again."
		s.render(w, r, http.StatusTooManyRequests, "login", "Sign in", "", data)
		return
	}
	admin, ok := s.checkAdmin(r, email, password, code)
	if !ok {
		s.log.Warn("admin sign-in failed", "ip", ip)
		data.Error = "Invalid email, password or authentication code."
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in", "", data)
		return
	}
	try.Succeeded(r.Context())
	// StartAdminSession records the sign-in in the audit log.
	if err := s.startSession(w, r, admin.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

// checkAdmin asks the core: it checks the password and, when the admin has
// one, the TOTP code and its one use across every instance.
func (s *server) checkAdmin(r *http.Request, email, password, code string) (*sm.Admin, bool) {
	if email == "" || password == "" || len(email) > 320 || len(password) > 1024 || len(code) > 64 {
		return nil, false
	}
	admin, err := s.d.Core.SignIn.CheckAdminSignIn(r.Context(), email, password, code)
	if err != nil {
		if sm.ErrorCode(err) != sm.EUNAUTHORIZED {
			s.log.Error("admin sign-in check", "err", err)
		}
		return nil, false
	}
	return admin, true
}

// handleLogout ends the session on the server (on every instance), not
// only in this browser: a copy of the cookie is refused from now on.
func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if as := sessionFrom(r.Context()); as != nil {
		err := s.d.Core.AdminSessions.EndAdminSession(r.Context(), as.ID, sm.EndLogout)
		if err != nil && !sm.IsNotFound(err) {
			s.serverError(w, r, err)
			return
		}
	}
	s.clearSession(w, r)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
