package httpapi

import (
	"context"
	"fmt"
	netmail "net/mail"
	"time"

	"github.com/wneessen/go-mail"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/smtpurl"
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
	host, opts, err := smtpurl.Options(smtpURL, 10*time.Second, nil)
	if err != nil {
		return nil, err
	}
	return &SMTPMailer{host: host, opts: opts, from: addr, Subject: "Your sign-in link"}, nil
}

// SendMagicLink sends one sign-in email.
func (m *SMTPMailer) SendMagicLink(ctx context.Context, ml sm.MagicLinkMail) error {
	return m.send(ctx, "magic link", ml.To, m.Subject, fmt.Sprintf(
		"Hello,\n\nfollow this link to sign in:\n\n%s\n\nIt works once and expires in %d minutes. If you did not ask for it, ignore this email.\n", ml.URL, minutesLeft(ml.ExpiresAt)))
}

// SendAccountMail sends one confirmation or password-reset email. The
// confirmation names the sign-up it confirms and tells whoever did not
// make it not to follow the link (following it accepts that sign-up's
// password): a magic link or a password reset takes the account back.
func (m *SMTPMailer) SendAccountMail(ctx context.Context, am sm.AccountMail) error {
	minutes := minutesLeft(am.ExpiresAt)
	if am.Purpose == sm.TokenResetPassword {
		return m.send(ctx, "account email", am.To, "Reset your password", fmt.Sprintf(
			"Hello,\n\nfollow this link to choose a new password:\n\n%s\n\nIt works once and expires in %d minutes. Every device signed in to your account will be signed out. If you did not ask for it, ignore this email.\n", am.URL, minutes))
	}
	return m.send(ctx, "account email", am.To, "Confirm your email", fmt.Sprintf(
		"Hello,\n\nsomeone signed up with this email address as %q. If it was you, follow this link to confirm it:\n\n%s\n\n"+
			"It works once and expires in %d minutes. If it was not you, do not follow the link: whoever signed up chose the password. "+
			"Ask for a password reset (or a sign-in link) instead; that signs them out and voids their password.\n", am.Username, am.URL, minutes))
}

// SendChallengeCode sends one verification code (a challenged sign-in).
func (m *SMTPMailer) SendChallengeCode(ctx context.Context, cm sm.ChallengeCodeMail) error {
	return m.send(ctx, "challenge code", cm.To, "Your verification code: "+cm.Code, fmt.Sprintf(
		"Hello,\n\nyour verification code is:\n\n%s\n\nEnter it where you are signing in. It works once and expires in %d minutes. "+
			"If you are not signing in right now, someone else knows your password: change it.\n", cm.Code, minutesLeft(cm.ExpiresAt)))
}

// send sends one plain-text email; what names the kind in errors.
func (m *SMTPMailer) send(ctx context.Context, what, to, subject, body string) error {
	msg := mail.NewMsg()
	msg.FromMailAddress(m.from)
	if err := msg.To(to); err != nil {
		return fmt.Errorf("%s recipient: %w", what, err)
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, body)
	client, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, msg)
}

// SendAdminInvite sends one invitation to join the dashboard's team.
func (m *SMTPMailer) SendAdminInvite(ctx context.Context, in sm.AdminInviteMail) error {
	by := in.InvitedBy
	if by == "" {
		by = "An owner"
	}
	return m.send(ctx, "admin invitation", in.To, "You are invited to Session Manager", fmt.Sprintf(
		"Hello,\n\n%s invited you to the Session Manager dashboard as %s. Follow this link to choose your password:\n\n%s\n\n"+
			"It works once and expires on %s. If you did not expect it, ignore this email.\n", by, in.Role, in.URL, in.ExpiresAt.UTC().Format("2 Jan 2006 15:04 UTC")))
}

// minutesLeft is the whole minutes until t, at least 1.
func minutesLeft(t time.Time) int {
	return max(1, int(time.Until(t).Round(time.Minute)/time.Minute))
}
