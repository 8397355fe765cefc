package main

import (
	"errors"
	"strconv"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/httpapi"
)

// loadMagicLink reads the magic-link settings: SM_MAGIC_LINK_URL enables
// passwordless login (SMTP_URL required), SM_MAGIC_LINK_TTL (15m),
// SM_MAGIC_LINK_SIGNUP (false), SM_MAGIC_LINK_FROM (SM_ALERT_FROM),
// SM_MAGIC_LINK_PER_EMAIL (5) and SM_MAGIC_LINK_PER_IP (20) per 15 minutes.
func loadMagicLink(getenv func(string) string, c *config) (*httpapi.MagicLinkConfig, error) {
	link := getenv("SM_MAGIC_LINK_URL")
	if link == "" {
		return nil, nil
	}
	opt := sm.MagicLinkOptions{TTL: 15 * time.Minute}
	if v := getenv("SM_MAGIC_LINK_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return nil, badVar("SM_MAGIC_LINK_TTL", "a Go duration between 1s and 24h, e.g. 15m", v)
		}
		opt.TTL = d
	}
	switch v := getenv("SM_MAGIC_LINK_SIGNUP"); v {
	case "", "false", "0":
	case "true", "1":
		opt.Signup = true
	default:
		return nil, badVar("SM_MAGIC_LINK_SIGNUP", "true or false", v)
	}
	for _, l := range []struct {
		name string
		dst  *int64
	}{{"SM_MAGIC_LINK_PER_EMAIL", &opt.PerEmail}, {"SM_MAGIC_LINK_PER_IP", &opt.PerIP}} {
		if v := getenv(l.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return nil, badVar(l.name, "a positive number of requests per 15 minutes", v)
			}
			*l.dst = n
		}
	}
	if c.SMTPURL == "" {
		return nil, &configError{"SM_MAGIC_LINK_URL is set but SMTP_URL is not: magic links are sent by email"}
	}
	from := getenv("SM_MAGIC_LINK_FROM")
	if from == "" {
		from = c.AlertFrom
	}
	mailer, err := httpapi.NewSMTPMailer(c.SMTPURL, from)
	if err != nil {
		return nil, &configError{"magic links: " + sm.ErrorMessage(err)}
	}
	ml, err := httpapi.NewMagicLinkConfig(link, opt, mailer)
	if err != nil {
		return nil, badVar("SM_MAGIC_LINK_URL", "an absolute http(s) URL like https://app.example.com/auth/magic?token=", link)
	}
	return ml, nil
}

// loadAccountMail reads the account email settings (Strapi's
// email_confirmation and forgot-password): SM_EMAIL_CONFIRMATION_URL (the
// link of the confirmation email, e.g.
// https://auth.example.com/api/auth/email-confirmation?confirmation=),
// SM_EMAIL_CONFIRMATION_REDIRECT (where a confirmed browser lands),
// SM_RESET_PASSWORD_URL (the app's reset page, e.g.
// https://app.example.com/reset-password?code=) and SM_ACCOUNT_MAIL_FROM
// (SM_MAGIC_LINK_FROM, then SM_ALERT_FROM). SMTP_URL is required when a
// link URL is set.
func loadAccountMail(getenv func(string) string, c *config) (*httpapi.AccountMailConfig, error) {
	confirm, redirect, reset := getenv("SM_EMAIL_CONFIRMATION_URL"), getenv("SM_EMAIL_CONFIRMATION_REDIRECT"), getenv("SM_RESET_PASSWORD_URL")
	var mailer sm.AccountMailer
	if confirm != "" || reset != "" {
		if c.SMTPURL == "" {
			return nil, &configError{"SM_EMAIL_CONFIRMATION_URL or SM_RESET_PASSWORD_URL is set but SMTP_URL is not: these links are sent by email"}
		}
		from := getenv("SM_ACCOUNT_MAIL_FROM")
		if from == "" {
			from = getenv("SM_MAGIC_LINK_FROM")
		}
		if from == "" {
			from = c.AlertFrom
		}
		m, err := httpapi.NewSMTPMailer(c.SMTPURL, from)
		if err != nil {
			return nil, &configError{"account emails: " + sm.ErrorMessage(err)}
		}
		mailer = m
	}
	ac, err := httpapi.NewAccountMailConfig(confirm, redirect, reset, mailer)
	if err != nil {
		for field, v := range map[string]string{"confirmURL": "SM_EMAIL_CONFIRMATION_URL", "confirmRedirect": "SM_EMAIL_CONFIRMATION_REDIRECT", "resetURL": "SM_RESET_PASSWORD_URL"} {
			var e *sm.Error
			if errors.As(err, &e) && e.Fields[field] != "" {
				return nil, badVar(v, "an absolute http(s) URL without user info or fragment", getenv(v))
			}
		}
		return nil, &configError{"account emails: " + sm.ErrorMessage(err)}
	}
	return ac, nil
}

// confirmationSettings checks that a settings document requiring confirmed
// emails can be met: without the confirmation email nobody could sign in.
func confirmationSettings(ac *httpapi.AccountMailConfig, next func(*sm.Settings) map[string]string) func(*sm.Settings) map[string]string {
	return func(s *sm.Settings) map[string]string {
		bad := next(s)
		if s != nil && s.RequireEmailConfirmation && (ac == nil || ac.ConfirmURL == "") {
			if bad == nil {
				bad = map[string]string{}
			}
			bad["requireEmailConfirmation"] = "needs the confirmation email (SM_EMAIL_CONFIRMATION_URL and SMTP_URL): without it no new account could sign in"
		}
		return bad
	}
}

// loadChallengeMail reads the sender of challenge codes: with SMTP_URL set
// the email factor is on, sent from SM_CHALLENGE_MAIL_FROM (then
// SM_ACCOUNT_MAIL_FROM, SM_MAGIC_LINK_FROM, SM_ALERT_FROM).
func loadChallengeMail(getenv func(string) string, c *config) (sm.ChallengeMailer, error) {
	if c.SMTPURL == "" {
		return nil, nil
	}
	from := c.AlertFrom
	for _, v := range []string{"SM_CHALLENGE_MAIL_FROM", "SM_ACCOUNT_MAIL_FROM", "SM_MAGIC_LINK_FROM"} {
		if f := getenv(v); f != "" {
			from = f
			break
		}
	}
	m, err := httpapi.NewSMTPMailer(c.SMTPURL, from)
	if err != nil {
		return nil, &configError{"challenge codes: " + sm.ErrorMessage(err)}
	}
	return m, nil
}
