package httpapi

import (
	"context"
	"net/http"
	"net/mail"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// AccountMailConfig enables the confirmation and password-reset emails of
// Strapi's users-permissions (email_confirmation, forgot-password).
type AccountMailConfig struct {
	// ConfirmURL is the link of the confirmation email, the token appended
	// as confirmation=, e.g.
	// https://auth.example.com/api/auth/email-confirmation?confirmation=
	// (SM_EMAIL_CONFIRMATION_URL). Empty: no confirmation emails.
	ConfirmURL string
	// ConfirmRedirect is where GET /api/auth/email-confirmation sends the
	// browser after a confirmation (Strapi's email_confirmation_redirection;
	// SM_EMAIL_CONFIRMATION_REDIRECT, default "/").
	ConfirmRedirect string
	// ResetURL is the link of the password-reset email, the code appended
	// as code=, e.g. https://app.example.com/reset-password?code=
	// (Strapi's email_reset_password; SM_RESET_PASSWORD_URL). Empty: no
	// reset emails.
	ResetURL string
	Mailer   sm.AccountMailer
}

// NewAccountMailConfig checks the URLs and returns the configuration.
func NewAccountMailConfig(confirmURL, confirmRedirect, resetURL string, mailer sm.AccountMailer) (*AccountMailConfig, error) {
	bad := map[string]string{}
	for name, u := range map[string]string{"confirmURL": confirmURL, "resetURL": resetURL, "confirmRedirect": confirmRedirect} {
		if u != "" && checkLinkURL(u) != nil {
			bad[name] = "must be an absolute http(s) URL without user info or fragment"
		}
	}
	if len(bad) > 0 {
		return nil, sm.InvalidFields(bad)
	}
	if mailer == nil && (confirmURL != "" || resetURL != "") {
		return nil, sm.Errorf(sm.EINVALID, "account emails need a mailer (SMTP_URL)")
	}
	return &AccountMailConfig{ConfirmURL: confirmURL, ConfirmRedirect: confirmRedirect, ResetURL: resetURL, Mailer: mailer}, nil
}

// urlFor is the emailed link base of a token purpose ("" when off) and
// the parameter the token goes in.
func (c *AccountMailConfig) urlFor(purpose string) (base, param string) {
	if c == nil {
		return "", ""
	}
	if purpose == sm.TokenResetPassword {
		return c.ResetURL, "code"
	}
	return c.ConfirmURL, "confirmation"
}

// sends reports whether emails of the purpose are configured.
func (c *AccountMailConfig) sends(purpose string) bool {
	base, _ := c.urlFor(purpose)
	return base != ""
}

// sendAccountMail emails a grant after the response, retrying a failed
// send; failures are logged without the token.
func (s *server) sendAccountMail(ctx context.Context, grant *sm.AccountGrant) {
	base, param := s.Accounts.urlFor(grant.Purpose)
	if base == "" || grant.User == nil {
		return
	}
	msg := sm.AccountMail{Purpose: grant.Purpose, To: grant.User.Email, Username: grant.User.Username,
		URL: linkWith(base, param, grant.Token), ExpiresAt: grant.ExpiresAt}
	if err := sendWithRetry(ctx, func(ctx context.Context) error { return s.Accounts.Mailer.SendAccountMail(ctx, msg) }); err != nil {
		s.log.Error("account email not sent", "purpose", grant.Purpose, "user", grant.User.ID, "err", err)
	}
}

// afterResponse runs fn off the request (an email) on the server's
// Background, bounded by the server's mail slots; when all are busy it is
// dropped with a warning (the user can ask again).
func (s *server) afterResponse(r *http.Request, what string, fn func(ctx context.Context)) {
	select {
	case s.mailSlots <- struct{}{}:
		if !s.background.Go(r.Context(), func(ctx context.Context) {
			defer func() { <-s.mailSlots }()
			fn(ctx)
		}) {
			<-s.mailSlots
			s.log.Warn(what + " not sent: shutting down")
		}
	default:
		s.log.Warn(what + " not sent: too many emails in flight")
	}
}

type emailRequest struct {
	Email string `json:"email"`
}

func (q emailRequest) Valid() map[string]string {
	e := strings.TrimSpace(q.Email)
	switch {
	case e == "":
		return map[string]string{"email": "is required"}
	case len(e) > 254:
		return map[string]string{"email": "must be a valid email address"}
	}
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
		return map[string]string{"email": "must be a valid email address"}
	}
	return nil
}

// handleAccountMailRequest serves forgot-password and
// send-email-confirmation: checks and limits, then the same answer
// whether or not the account exists; the lookup, the token and the email
// happen after the response.
func (s *server) handleAccountMailRequest(purpose string, answer func(email string) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Accounts.sends(purpose) {
			what := "password reset by email (SM_RESET_PASSWORD_URL and SMTP_URL)"
			if purpose == sm.TokenConfirmEmail {
				what = "email confirmation (SM_EMAIL_CONFIRMATION_URL and SMTP_URL)"
			}
			s.fail(w, r, &sm.Error{Code: sm.EUNAVAILABLE, Message: "This server has no " + what + " configured", Reason: "not_configured"})
			return
		}
		req, err := decode[emailRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		email := strings.ToLower(strings.TrimSpace(req.Email))
		client := s.clientInfo(r)
		if err := s.Manager.LimitAccountMail(r.Context(), purpose, email, client); err != nil {
			s.fail(w, r, err)
			return
		}
		s.afterResponse(r, purpose+" email", func(ctx context.Context) {
			issue := s.Manager.IssuePasswordReset
			if purpose == sm.TokenConfirmEmail {
				issue = s.Manager.IssueEmailConfirmation
			}
			grant, err := issue(ctx, email, client)
			if err != nil {
				s.log.Error("account token not issued", "purpose", purpose, "err", err)
				return
			}
			if grant != nil {
				s.sendAccountMail(ctx, grant)
			}
		})
		encode(w, http.StatusOK, answer(email))
	})
}

// handleEmailConfirmation is Strapi's GET /api/auth/email-confirmation:
// it spends the token and redirects to the configured page.
func (s *server) handleEmailConfirmation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("confirmation")
		if token == "" {
			// Strapi's yup message for the missing parameter.
			s.fail(w, r, &sm.Error{Code: sm.EINVALID, Message: "confirmation is a required field", Reason: "invalid_token", Fields: map[string]string{"confirmation": "is required"}})
			return
		}
		if _, err := s.Manager.ConfirmEmail(r.Context(), token, s.clientInfo(r)); err != nil {
			s.fail(w, r, err)
			return
		}
		to := "/"
		if s.Accounts != nil && s.Accounts.ConfirmRedirect != "" {
			to = s.Accounts.ConfirmRedirect
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusFound)
	})
}

type resetPasswordRequest struct {
	Code                 string `json:"code"`
	Password             string `json:"password"`
	PasswordConfirmation string `json:"passwordConfirmation"`
	DeviceID             string `json:"deviceId"`
}

func (q resetPasswordRequest) Valid() map[string]string {
	bad := map[string]string{}
	if q.Code == "" {
		bad["code"] = "is required"
	} else if len(q.Code) > 128 {
		bad["code"] = "is not valid"
	}
	if q.Password == "" {
		bad["password"] = "is required"
	} else if len(q.Password) > 1024 {
		bad["password"] = "is too long"
	}
	if q.PasswordConfirmation == "" {
		bad["passwordConfirmation"] = "is required"
	}
	addDeviceIDProblem(bad, q.DeviceID)
	return bad
}

// handleResetPassword is Strapi's POST /api/auth/reset-password: it sets
// the new password, ends every session of the account and answers like a
// login ({jwt, user}).
func (s *server) handleResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[resetPasswordRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if req.Password != req.PasswordConfirmation {
			s.fail(w, r, &sm.Error{Code: sm.EINVALID, Message: "Passwords do not match", Fields: map[string]string{"passwordConfirmation": "must equal password"}})
			return
		}
		res, err := s.Manager.ResetPassword(r.Context(), req.Code, req.Password, s.clientWithDevice(r, req.DeviceID))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeLogin(w, r, http.StatusOK, res)
	})
}
