package httpapi

import (
	"context"
	"crypto/tls"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/wneessen/go-mail"
)

// SMTPMailer sends sign-in emails with go-mail.
type SMTPMailer struct {
	host string
	opts []mail.Option
	from *netmail.Address
	// Subject of the email (default "Your sign-in link").
	Subject string
}

// NewSMTPMailer parses SMTP_URL: smtp://user:pass@host:587 (STARTTLS
// required), smtps://host:465 (implicit TLS), ?tls=opportunistic, or
// ?tls=none for local relays and tests.
func NewSMTPMailer(smtpURL, from string) (*SMTPMailer, error) {
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "the sign-in email sender %q is not an email address", from)
	}
	u, err := url.Parse(smtpURL)
	if err != nil || u.Hostname() == "" {
		return nil, sm.Errorf(sm.EINVALID, "SMTP_URL must look like smtp://user:pass@host:587")
	}
	port, defPort := 0, 587
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, sm.Errorf(sm.EINVALID, "SMTP_URL has an invalid port")
		}
	}
	opts := []mail.Option{mail.WithTimeout(10 * time.Second)}
	switch mode := u.Query().Get("tls"); {
	case u.Scheme == "smtps":
		opts, defPort = append(opts, mail.WithSSL()), 465
	case u.Scheme != "smtp":
		return nil, sm.Errorf(sm.EINVALID, "SMTP_URL scheme must be smtp or smtps")
	case mode == "" || mode == "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case mode == "opportunistic":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case mode == "none":
		opts, defPort = append(opts, mail.WithTLSPolicy(mail.NoTLS)), 25
	default:
		return nil, sm.Errorf(sm.EINVALID, "SMTP_URL tls must be starttls, opportunistic or none")
	}
	if port == 0 {
		port = defPort
	}
	opts = append(opts, mail.WithPort(port), mail.WithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	return &SMTPMailer{host: u.Hostname(), opts: opts, from: addr, Subject: "Your sign-in link"}, nil
}

// SendMagicLink sends one sign-in email.
func (m *SMTPMailer) SendMagicLink(ctx context.Context, ml sm.MagicLinkMail) error {
	msg := mail.NewMsg()
	msg.FromMailAddress(m.from)
	if err := msg.To(ml.To); err != nil {
		return fmt.Errorf("magic link recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	minutes := int(time.Until(ml.ExpiresAt).Round(time.Minute) / time.Minute)
	if minutes < 1 {
		minutes = 1
	}
	msg.SetBodyString(mail.TypeTextPlain, fmt.Sprintf(
		"Hello,\n\nfollow this link to sign in:\n\n%s\n\nIt works once and expires in %d minutes. If you did not ask for it, ignore this email.\n", ml.URL, minutes))
	client, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, msg)
}
