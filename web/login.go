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
	// Pending is set on the second step (the account has TOTP): the
	// core's sealed ticket of the password step.
	Pending string
}

func (s *server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if as, _ := s.readSession(r); as != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", "Sign in", "", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// handleLogin is the first step: email and password. When the account
// has TOTP on, the second step's form follows (a code is asked only then);
// a code sent along with the password (scripts, password managers) is
// checked at once. Every failure gets the same answer.
func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	code := r.PostFormValue("code")
	data := loginData{Email: email, Next: safeNext(r.PostFormValue("next"))}
	try, ok := s.reserveSignIn(w, r, email, data)
	if !ok {
		return
	}
	var (
		admin   *sm.Admin
		pending string
	)
	if code != "" {
		admin, ok = s.checkAdmin(r, email, password, code)
	} else if ok = email != "" && password != "" && len(email) <= 320 && len(password) <= 1024; ok {
		var err error
		admin, pending, err = s.d.Core.TwoFactor.BeginAdminSignIn(r.Context(), email, password)
		ok = s.signInOK(err)
	}
	if !ok {
		s.signInFailed(w, r, data)
		return
	}
	if pending != "" {
		// Not signed in yet: the account's failures stay until the code.
		try.SecondFactorDue(r.Context())
		data.Pending = pending
		s.render(w, r, http.StatusOK, "login", "Authentication code", "", data)
		return
	}
	try.Succeeded(r.Context())
	s.signedIn(w, r, admin, data.Next)
}

// handleLoginCode is the second step: the TOTP code (or a recovery code)
// of the account the first step's ticket names.
func (s *server) handleLoginCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	data := loginData{Email: email, Next: safeNext(r.PostFormValue("next")), Pending: r.PostFormValue("pending")}
	// Counted under the ticket's account, not the form's email: a caller
	// varying that field gets no more guesses at the code.
	try, ok := s.reserveAttempt(w, r, data, func() (*sm.AdminSignIn, error) {
		return s.d.Core.TwoFactor.ReserveAdminSignInCode(r.Context(), data.Pending, s.clientIP(r))
	})
	if !ok {
		return
	}
	code := r.PostFormValue("code")
	if len(code) > 64 || len(data.Pending) > 512 {
		s.signInFailed(w, r, data)
		return
	}
	admin, err := s.d.Core.TwoFactor.FinishAdminSignIn(r.Context(), data.Pending, code)
	if se := (*sm.Error)(nil); errors.As(err, &se) && se.Reason == sm.ReasonSignInExpired {
		// The ticket expired: start again from the password.
		data.Pending, data.Error = "", "The sign-in took too long. Enter your password again."
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in", "", data)
		return
	}
	if !s.signInOK(err) {
		s.signInFailed(w, r, data)
		return
	}
	try.Succeeded(r.Context())
	s.signedIn(w, r, admin, data.Next)
}

// reserveSignIn counts the attempt before anything is checked, in the
// counter every instance shares: a parallel burst cannot all slip under
// the limit. ok is false when the answer (429) is written.
func (s *server) reserveSignIn(w http.ResponseWriter, r *http.Request, email string, data loginData) (*sm.AdminSignIn, bool) {
	return s.reserveAttempt(w, r, data, func() (*sm.AdminSignIn, error) {
		return s.d.Core.SignIn.ReserveAdminSignIn(r.Context(), email, s.clientIP(r))
	})
}

// reserveAttempt runs reserve and answers its refusal.
func (s *server) reserveAttempt(w http.ResponseWriter, r *http.Request, data loginData, reserve func() (*sm.AdminSignIn, error)) (*sm.AdminSignIn, bool) {
	try, err := reserve()
	if err != nil {
		var se *sm.Error
		if !errors.As(err, &se) || se.Code != sm.ETOOMANY {
			s.serverError(w, r, err)
			return nil, false
		}
		w.Header().Set("Retry-After", strconv.Itoa(se.RetryAfterSeconds))
		data.Error = "Too many failed sign-ins. Wait a few minutes and try again."
		s.render(w, r, http.StatusTooManyRequests, "login", "Sign in", "", data)
		return nil, false
	}
	return try, true
}

// signInOK reports whether the core accepted a sign-in step; a failure
// other than a refusal is logged.
func (s *server) signInOK(err error) bool {
	if err != nil && sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		s.log.Error("admin sign-in check", "err", err)
	}
	return err == nil
}

func (s *server) signInFailed(w http.ResponseWriter, r *http.Request, data loginData) {
	s.log.Warn("admin sign-in failed", "ip", s.clientIP(r).String())
	data.Error = "Invalid email, password or authentication code."
	s.render(w, r, http.StatusUnauthorized, "login", "Sign in", "", data)
}

// signedIn starts the dashboard session (StartAdminSession records the
// sign-in in the audit log) and goes on to next.
func (s *server) signedIn(w http.ResponseWriter, r *http.Request, admin *sm.Admin, next string) {
	if err := s.startSession(w, r, admin.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// checkAdmin asks the core: it checks the password and, when the admin has
// one, the TOTP code and its one use across every instance.
func (s *server) checkAdmin(r *http.Request, email, password, code string) (*sm.Admin, bool) {
	if email == "" || password == "" || len(email) > 320 || len(password) > 1024 || len(code) > 64 {
		return nil, false
	}
	admin, err := s.d.Core.SignIn.CheckAdminSignIn(r.Context(), email, password, code)
	return admin, s.signInOK(err)
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
