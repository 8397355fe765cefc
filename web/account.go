package web

import (
	"errors"
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// accountData is the signed-in admin's own page: their dashboard sessions
// (each can be signed out) and the password form.
type accountData struct {
	Sessions []adminSessionRow
	Current  string // this browser's session id
	Errors   map[string]string
	Message  string
	// TOTP is the two-factor section, with its own message and errors.
	TOTP       totpData
	Message2FA string
	Done2FA    string
	Errors2FA  map[string]string
}

// FieldError2FA returns the two-factor forms' error for field.
func (d accountData) FieldError2FA(field string) string { return fieldError(d.Errors2FA, field) }

// adminSessionRow is one sign-in with its browser in words.
type adminSessionRow struct {
	*sm.AdminSession
	Device string
}

// FieldError returns the password form's error for field.
func (d accountData) FieldError(field string) string { return fieldError(d.Errors, field) }

func (s *server) accountData(r *http.Request) (accountData, error) {
	d := accountData{}
	if as := sessionFrom(r.Context()); as != nil {
		d.Current = as.ID
	}
	t, err := s.totpSection(r, "")
	if err != nil {
		return d, err
	}
	d.TOTP = t
	list, err := s.d.Core.AdminSessions.ListAdminSessions(r.Context(), adminFrom(r.Context()).ID)
	parser := s.d.UserAgents
	for _, as := range list {
		row := adminSessionRow{AdminSession: as, Device: "unknown browser"}
		if parser != nil {
			if t := deviceText(parser.Parse(as.UserAgent)); t != "" {
				row.Device = t
			}
		}
		d.Sessions = append(d.Sessions, row)
	}
	return d, err
}

func (s *server) handleAccount(w http.ResponseWriter, r *http.Request) {
	d, err := s.accountData(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "account", "Account", "account", d)
}

// handleEndAdminSession signs out one of the admin's own dashboard sessions
// (another browser, a lost laptop) on every instance.
func (s *server) handleEndAdminSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	admin := adminFrom(r.Context())
	own := false
	if list, err := s.d.Core.AdminSessions.ListAdminSessions(r.Context(), admin.ID); err == nil {
		for _, as := range list {
			own = own || as.ID == id
		}
	} else {
		s.serverError(w, r, err)
		return
	}
	if !own {
		s.renderError(w, r, http.StatusNotFound, "Session not found", "That sign-in has already ended or is not yours.")
		return
	}
	if err := s.d.Core.AdminSessions.EndAdminSession(r.Context(), id, sm.EndManual); err != nil && !sm.IsNotFound(err) {
		s.serverError(w, r, err)
		return
	}
	if cur := sessionFrom(r.Context()); cur != nil && cur.ID == id {
		s.clearSession(w, r)
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
		return
	}
	s.redirectBack(w, r, "/admin/account", "admin-session-ended")
}

// handleAdminPassword changes the signed-in admin's password; every other
// dashboard session of theirs ends, this one stays.
func (s *server) handleAdminPassword(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	current, next, again := r.PostFormValue("current"), r.PostFormValue("password"), r.PostFormValue("again")
	cur := sessionFrom(r.Context())
	fail := func(status int, msg string, fields map[string]string) {
		d, err := s.accountData(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		d.Errors, d.Message = fields, msg
		s.render(w, r, status, "account", "Account", "account", d)
	}
	if next != again {
		fail(http.StatusBadRequest, "The new passwords do not match.", map[string]string{"again": "does not match the new password"})
		return
	}
	if len(current) > 1024 || len(next) > 1024 {
		fail(http.StatusBadRequest, "The password is too long.", map[string]string{"password": "is too long"})
		return
	}
	_, err := s.d.Core.AdminSessions.ChangeAdminPassword(r.Context(), adminFrom(r.Context()).ID, current, next, cur.ID)
	if err != nil {
		var fe *sm.Error
		switch code := sm.ErrorCode(err); {
		case code == sm.EINVALID && errors.As(err, &fe):
			fail(http.StatusBadRequest, "The password was not changed.", fe.Fields)
		case code == sm.ETOOMANY:
			fail(http.StatusTooManyRequests, "Too many wrong passwords. Wait a few minutes and try again.", nil)
		default:
			s.serverError(w, r, err)
		}
		return
	}
	s.redirectBack(w, r, "/admin/account", "password-changed")
}
