package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// userSecurity is the user page's factors, trusted devices and challenge
// history, read through the core (AdminCore.Security).
type userSecurity struct {
	Factors    []sm.FactorSummary
	Devices    []*sm.TrustedDevice
	Challenges []*sm.Event
	// StepUpError says why the last reset was refused (the admin's
	// password or code was wrong).
	StepUpError string
}

func (s *server) userSecurity(r *http.Request, userID string) (*userSecurity, error) {
	sec := s.d.Core.Security
	if sec == nil {
		return nil, nil
	}
	ctx := r.Context()
	var out userSecurity
	var err error
	if out.Factors, err = sec.Factors(ctx, userID); err != nil {
		return nil, err
	}
	if out.Devices, err = sec.UserTrustedDevices(ctx, userID); err != nil {
		return nil, err
	}
	if out.Challenges, err = sec.ChallengeHistory(ctx, userID, 30); err != nil {
		return nil, err
	}
	return &out, nil
}

// stepUp asks the signed-in admin to prove it again before a sensitive
// action: the password, and the TOTP code when the admin has TOTP on,
// checked by the dashboard sign-in's own check and throttle (a stolen
// dashboard cookie alone cannot reset a user's factors).
func (s *server) stepUp(w http.ResponseWriter, r *http.Request) (ok bool, refused string) {
	admin := adminFrom(r.Context())
	if admin == nil {
		return false, "Sign in again."
	}
	try, err := s.d.Core.SignIn.ReserveAdminSignIn(r.Context(), admin.Email, s.clientIP(r))
	if err != nil {
		var se *sm.Error
		if errors.As(err, &se) && se.Code == sm.ETOOMANY {
			w.Header().Set("Retry-After", strconv.Itoa(se.RetryAfterSeconds))
			return false, "Too many failed confirmations. Wait a few minutes and try again."
		}
		return false, "The confirmation could not be checked; try again."
	}
	got, good := s.checkAdmin(r, admin.Email, r.PostFormValue("password"), r.PostFormValue("code"))
	if !good || got.ID != admin.ID {
		return false, "Wrong password or authentication code: nothing was changed."
	}
	try.Succeeded(r.Context())
	return true, ""
}

// handleUserSecurityAction serves the user page's "reset factors" and
// "forget trusted devices": after the admin's step-up, through the core,
// which audits them.
func (s *server) handleUserSecurityAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		id := r.PathValue("id")
		if s.d.Core.Security == nil {
			s.renderError(w, r, http.StatusNotFound, "Not available", "This server has no factor or trusted-device administration.")
			return
		}
		if ok, refused := s.stepUp(w, r); !ok {
			status := http.StatusUnauthorized
			if w.Header().Get("Retry-After") != "" {
				status = http.StatusTooManyRequests
			}
			s.renderUser(w, r, id, status, refused)
			return
		}
		var err error
		done := "factors-reset"
		if action == "forget-devices" {
			_, err = s.d.Core.Security.ForgetTrustedDevices(r.Context(), id)
			done = "devices-forgotten"
		} else {
			_, err = s.d.Core.Security.ResetFactors(r.Context(), id)
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		s.redirectBack(w, r, "/admin/users/"+url.PathEscape(id), done)
	}
}
