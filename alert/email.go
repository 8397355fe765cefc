package alert

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	netmail "net/mail"
	"time"

	"github.com/wneessen/go-mail"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/smtpurl"
)

// DefaultSMTPTimeout bounds one SMTP delivery.
const DefaultSMTPTimeout = 10 * time.Second

// EmailConfig configures the SMTP sender.
type EmailConfig struct {
	// SMTPURL is smtp://user:pass@host:587 (STARTTLS required),
	// smtps://user:pass@host:465 (implicit TLS) or smtp://host:25?tls=none
	// (no TLS: local relays and tests only). ?tls=opportunistic uses
	// STARTTLS when offered.
	SMTPURL string
	// From is the sender address (SM_ALERT_FROM), e.g. "Security <alerts@example.com>".
	From      string
	Templates *Templates
	// Timeout of one SMTP conversation (default 10s).
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (tests trust their own CA).
	TLSConfig *tls.Config
	// ReportLinks mints the "This wasn't me" link of emails to users about
	// their sign-ins, when they are sent (the outbox never holds one);
	// zero: no link.
	ReportLinks sm.ReportLinks
}

// EmailSender sends alerts by SMTP with the editable templates.
type EmailSender struct {
	cfg  EmailConfig
	host string
	opts []mail.Option
	from *netmail.Address
}

// NewEmailSender checks the configuration and returns a sender.
func NewEmailSender(cfg EmailConfig) (*EmailSender, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "alert sender address (SM_ALERT_FROM) is not an email address")
	}
	host, opts, err := smtpurl.Options(cfg.SMTPURL, cfg.Timeout, cfg.TLSConfig)
	if err != nil {
		return nil, err
	}
	return &EmailSender{cfg: cfg, host: host, opts: opts, from: from}, nil
}

// Send renders the alert and sends it to the channel's recipients.
func (s *EmailSender) Send(ctx context.Context, d *sm.Delivery) error {
	var c Channel
	if err := json.Unmarshal(d.Target, &c); err != nil || len(c.To) == 0 {
		return Permanent(fmt.Errorf("email target is invalid"))
	}
	var a Alert
	if err := json.Unmarshal(d.Payload, &a); err != nil {
		return Permanent(fmt.Errorf("alert payload is invalid"))
	}
	reportURL := ""
	if a.Kind == KindUserNewSignIn {
		reportURL = s.cfg.ReportLinks.URL(a.Session.ID, a.OccurredAt)
	}
	r, err := s.cfg.Templates.render(ctx, &a, reportURL)
	if err != nil {
		return err
	}
	msg := mail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(c.To...); err != nil {
		return Permanent(fmt.Errorf("email recipients: %w", err))
	}
	msg.Subject(r.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(d.IdempotencyKey + "@msm.alerts")
	msg.SetGenHeader(mail.Header(HeaderIdempotencyKey), d.IdempotencyKey)
	msg.SetBodyString(mail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, r.HTML)
	client, err := mail.NewClient(s.host, s.opts...)
	if err != nil {
		return Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return client.DialAndSendWithContext(ctx, msg)
}
