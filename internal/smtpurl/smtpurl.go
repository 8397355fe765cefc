// Package smtpurl turns SMTP_URL into go-mail client options, the one
// reading of that variable for alert email and magic-link email.
package smtpurl

import (
	"crypto/tls"
	"net/url"
	"strconv"
	"time"

	"github.com/wneessen/go-mail"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Options parses smtp://user:pass@host:587 (STARTTLS required),
// smtps://user:pass@host:465 (implicit TLS), ?tls=opportunistic (STARTTLS
// when offered) or ?tls=none (local relays and tests) and returns the host
// and the client options. tlsConfig may be nil (TLS 1.2 or later).
func Options(smtpURL string, timeout time.Duration, tlsConfig *tls.Config) (string, []mail.Option, error) {
	u, err := url.Parse(smtpURL)
	if err != nil || u.Hostname() == "" {
		return "", nil, sm.Errorf(sm.EINVALID, "SMTP_URL must look like smtp://user:pass@host:587")
	}
	port := 0
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return "", nil, sm.Errorf(sm.EINVALID, "SMTP_URL has an invalid port")
		}
	}
	opts := []mail.Option{mail.WithTimeout(timeout)}
	defPort := 587
	switch mode := u.Query().Get("tls"); {
	case u.Scheme == "smtps":
		opts, defPort = append(opts, mail.WithSSL()), 465
	case u.Scheme != "smtp":
		return "", nil, sm.Errorf(sm.EINVALID, "SMTP_URL scheme must be smtp or smtps")
	case mode == "" || mode == "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case mode == "opportunistic":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case mode == "none":
		opts, defPort = append(opts, mail.WithTLSPolicy(mail.NoTLS)), 25
	default:
		return "", nil, sm.Errorf(sm.EINVALID, "SMTP_URL tls must be starttls, opportunistic or none")
	}
	if port == 0 {
		port = defPort
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConfig = tlsConfig.Clone()
	tlsConfig.ServerName = u.Hostname()
	opts = append(opts, mail.WithPort(port), mail.WithTLSConfig(tlsConfig))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	return u.Hostname(), opts, nil
}
