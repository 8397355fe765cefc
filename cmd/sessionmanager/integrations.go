package main

import (
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
