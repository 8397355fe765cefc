package sessionmanager

import (
	"context"
	"encoding/hex"
	"errors"
	"net/mail"
	"strings"
	"time"
)

// ReasonEmailNotConfirmed refuses a correct password while the settings
// require a confirmed email (Strapi: "Your account email is not confirmed").
const ReasonEmailNotConfirmed = "email_not_confirmed"

// Account token purposes: what an emailed token proves and allows.
const (
	// TokenConfirmEmail confirms the sign-up it was sent for.
	TokenConfirmEmail = "confirm_email"
	// TokenResetPassword sets a new password.
	TokenResetPassword = "reset_password"
)

// Event types of account email flows.
const (
	EventEmailConfirmed = "user.email_confirmed"
	// EventEmailProven: the email's owner proved it (magic link, password
	// reset) on an account whose password nobody had proven: that password
	// and every other session of the account ended.
	EventEmailProven = "user.email_proven"
	// EventAccountTokenSent: a confirmation or reset token was issued
	// (data.purpose says which).
	EventAccountTokenSent = "account_token.sent"
)

// AccountOptions are the rules of the confirmation and password-reset
// emails. The zero value is usable.
type AccountOptions struct {
	// ConfirmTTL is how long a confirmation link works (default 24h).
	ConfirmTTL time.Duration
	// ResetTTL is how long a reset code works (default 1h).
	ResetTTL time.Duration
	// MailLimits cap requests (forgot-password and
	// send-email-confirmation, each) per email and per address.
	MailLimits
}

func (o AccountOptions) withDefaults() AccountOptions {
	if o.ConfirmTTL <= 0 {
		o.ConfirmTTL = 24 * time.Hour
	}
	if o.ResetTTL <= 0 {
		o.ResetTTL = time.Hour
	}
	o.MailLimits = o.MailLimits.withDefaults()
	return o
}

// AccountGrant is an account email to send: the token in clear (it exists
// only here and in the email) and whom it is for.
type AccountGrant struct {
	Purpose   string
	Token     string
	User      *User
	ExpiresAt time.Time
}

// AccountMail is one confirmation or password-reset email.
type AccountMail struct {
	// Purpose is TokenConfirmEmail or TokenResetPassword.
	Purpose   string
	To        string
	Username  string
	URL       string
	ExpiresAt time.Time
}

// AccountMailer sends account emails (SMTP in the server).
type AccountMailer interface {
	SendAccountMail(ctx context.Context, m AccountMail) error
}

// tokenMagicLink is the purpose of a magic sign-in link in the token hash.
const tokenMagicLink = "magic_link"

// accountTokenHash is the lookup hash of an emailed token (a confirmation
// link, a reset code, a magic sign-in link). The purpose is part of the
// hashed text, so a token works only for what it was sent for (a reset
// code is no sign-in link) although all live in one table. Only tokens of
// Secrets.ValidToken reach it: a client cannot smuggle a purpose into the token
// ("confirm_email:<token>" is not base64url).
func (m *Manager) accountTokenHash(purpose, token string) []byte {
	return m.cfg.Secrets.LookupHash(purpose + ":" + token)
}

// issueAccountToken stores a single-use token (its keyed hash only) for u.
func (m *Manager) issueAccountToken(ctx context.Context, u *User, purpose string, client ClientInfo) (*AccountGrant, error) {
	links, err := m.magicLinks()
	if err != nil {
		return nil, err
	}
	opt := m.cfg.Accounts.withDefaults()
	ttl := opt.ConfirmTTL
	if purpose == TokenResetPassword {
		ttl = opt.ResetTTL
	}
	token, _, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	l := &MagicLink{Hash: m.accountTokenHash(purpose, token), Email: u.Email, UserID: u.ID, IP: ipText(client.IP.Unmap()), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := links.CreateMagicLink(ctx, l); err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventAccountTokenSent, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: l.IP, Data: jsonObject("purpose", purpose)}, nil)
	return &AccountGrant{Purpose: purpose, Token: token, User: u, ExpiresAt: l.ExpiresAt}, nil
}

// consumeAccountToken spends a token of purpose and returns its user. Of
// concurrent calls with one token exactly one succeeds. Unknown, used,
// expired and foreign tokens, and tokens of an email the account no longer
// has, are all invalid (msg).
func (m *Manager) consumeAccountToken(ctx context.Context, purpose, token, field, msg string) (*User, error) {
	invalid := &Error{Code: EINVALID, Message: msg, Reason: "invalid_token", Fields: map[string]string{field: "is not valid or has expired"}}
	if !m.cfg.Secrets.ValidToken(token) {
		return nil, invalid
	}
	links, err := m.magicLinks()
	if err != nil {
		return nil, err
	}
	l, err := links.ConsumeMagicLink(ctx, m.accountTokenHash(purpose, token), m.clock.Now())
	if ErrorCode(err) == EINVALID {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, l.UserID)
	if IsNotFound(err) || (err == nil && IdentityKey(u.Email) != IdentityKey(l.Email)) {
		return nil, invalid
	}
	return u, err
}

// LimitAccountMail counts a request for an account email of kind (a
// token purpose) against the per-email and per-IP limits, increment first,
// in the shared counter; past them ETOOMANY. It is the same whether or not
// the account exists (the email's counter is the account's: one account
// per email). Call it before IssueEmailConfirmation / IssuePasswordReset.
func (m *Manager) LimitAccountMail(ctx context.Context, kind, email string, client ClientInfo) error {
	if err := checkTexts("email", email); err != nil {
		return err
	}
	opt := m.cfg.Accounts.withDefaults()
	digest := m.cfg.Secrets.LookupHash(kind + "-email:" + IdentityKey(strings.TrimSpace(email)))
	return m.limitBoth(ctx, []counterLimit{
		{kind + ":email:" + hex.EncodeToString(digest[:16]), opt.PerEmail},
		{kind + ":" + failKeyIP(client.IP.Unmap()), opt.PerIP},
	}, opt.Window, "Too many requests for this email; try again later")
}

// counterLimit is one shared counter and its limit.
type counterLimit struct {
	key   string
	limit int64
}

// limitBoth increments every counter (refused requests count too) and
// refuses with ETOOMANY when any is past its limit.
func (m *Manager) limitBoth(ctx context.Context, limits []counterLimit, window time.Duration, msg string) error {
	over := false
	for _, k := range limits {
		n, err := m.fails.Incr(ctx, k.key, window)
		if err != nil {
			return err
		}
		over = over || n > k.limit
	}
	if over {
		return &Error{Code: ETOOMANY, Message: msg, Reason: "too_many_attempts", RetryAfterSeconds: int(window / time.Second)}
	}
	return nil
}

// accountByEmail checks an email a client sent and finds its account (nil
// when there is none: the caller answers the same either way).
func (m *Manager) accountByEmail(ctx context.Context, email string) (*User, error) {
	email = strings.TrimSpace(email)
	if p := textProblem(email); p != "" {
		return nil, InvalidFields(map[string]string{"email": p})
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return nil, InvalidFields(map[string]string{"email": "must be a valid email address"})
	}
	u, err := m.store.UserByIdentifier(ctx, email)
	if IsNotFound(err) || (err == nil && IdentityKey(u.Email) != IdentityKey(email)) {
		return nil, nil // unknown, or the identifier matched a username
	}
	return u, err
}

// IssueEmailConfirmation is Strapi's send-email-confirmation: a new
// confirmation link for an unconfirmed, unblocked account of email (nil
// grant: nothing to send). The caller answers the same whatever it
// returns, after the limits (LimitAccountMail), and does this work after
// the response, so neither answer nor timing tells whether the account
// exists.
func (m *Manager) IssueEmailConfirmation(ctx context.Context, email string, client ClientInfo) (*AccountGrant, error) {
	u, err := m.accountByEmail(ctx, email)
	if err != nil || u == nil || u.Confirmed || u.Blocked {
		return nil, err
	}
	return m.issueAccountToken(ctx, u, TokenConfirmEmail, client)
}

// ConfirmEmail spends a confirmation token: the account's email is proven
// (Strapi's confirmed) and the sign-up's password works where the settings
// require a confirmed email. The password stays unproven: the click may be
// a mail scanner's, so a later magic link still voids it (proveEmail).
func (m *Manager) ConfirmEmail(ctx context.Context, token string, client ClientInfo) (*User, error) {
	u, err := m.consumeAccountToken(ctx, TokenConfirmEmail, token, "confirmation", "Invalid token")
	if err != nil {
		return nil, err
	}
	if u.Confirmed {
		return u, nil
	}
	yes := true
	u, err = m.store.UpdateUser(ctx, u.ID, UserUpdate{Confirmed: &yes, UpdatedAt: m.clock.Now(), SpendTokens: true})
	if err != nil {
		return nil, err
	}
	client = cleanClient(client)
	m.audit(ctx, &Event{Type: EventEmailConfirmed, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: ipText(client.IP), UserAgent: client.UserAgent}, nil)
	return u, nil
}

// IssuePasswordReset is Strapi's forgot-password: a reset code for the
// unblocked account of email (nil grant: nothing to send). Like
// IssueEmailConfirmation, after LimitAccountMail and off the response.
func (m *Manager) IssuePasswordReset(ctx context.Context, email string, client ClientInfo) (*AccountGrant, error) {
	u, err := m.accountByEmail(ctx, email)
	if err != nil || u == nil || u.Blocked {
		return nil, err
	}
	return m.issueAccountToken(ctx, u, TokenResetPassword, client)
}

// ResetPassword is Strapi's reset-password: it spends the emailed code,
// sets the new password, proves the email, ends every session of the
// account and signs in with a new one.
func (m *Manager) ResetPassword(ctx context.Context, code, password string, client ClientInfo) (*LoginResult, error) {
	if err := checkTexts("code", code, "password", password); err != nil {
		return nil, err
	}
	if err := CheckDeviceID(client.DeviceID); err != nil {
		return nil, err
	}
	if err := m.validatePassword(password); err != nil {
		return nil, err
	}
	u, err := m.consumeAccountToken(ctx, TokenResetPassword, code, "code", "Incorrect code provided")
	if err != nil {
		return nil, err
	}
	hash, err := m.cfg.Passwords.Hash(password)
	if err != nil {
		return nil, err
	}
	// The reset is the owner's proof: it wins over a change in flight
	// (each write is conditional on the hash read, so a racing change
	// either landed before, and is overwritten here, or fails).
	if u, err = m.writeProven(ctx, u, func(u *User) (UserUpdate, bool) {
		now, yes, no := m.clock.Now(), true, false
		return UserUpdate{PasswordHash: &hash, Confirmed: &yes, PasswordUnproven: &no, PasswordResetRequired: &no, PasswordChangedAt: &now, UpdatedAt: now}, true
	}); err != nil {
		return nil, err
	}
	actor := Actor{Type: ActorUser, ID: u.ID, IP: ipText(client.IP.Unmap())}
	if _, err := m.EndUserSessions(ctx, u.ID, EndPasswordChanged, actor, ""); err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventPasswordChanged, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: actor.IP, Data: jsonObject("method", "reset")}, nil)
	_ = m.fails.Reset(ctx, failKeyAccount(u.ID))
	return m.StartSession(ctx, u, AuthPassword, client)
}

// proveEmail runs when the email's owner proves it by a magic link: a
// password nobody proved (chosen at sign-up, even if a confirmation link
// was followed since: mail scanners follow links) is voided and every
// session of the account ends before the prover's own session starts, so
// whoever registered the address first (an attacker pre-hijacking it) is
// out. It returns the account as it now is.
func (m *Manager) proveEmail(ctx context.Context, u *User, client ClientInfo) (*User, error) {
	voided := false
	u, err := m.writeProven(ctx, u, func(u *User) (UserUpdate, bool) {
		voided = u.PasswordUnproven && u.PasswordHash != ""
		if u.Confirmed && !voided {
			return UserUpdate{}, false
		}
		now, yes, no, none := m.clock.Now(), true, false, ""
		upd := UserUpdate{Confirmed: &yes, UpdatedAt: now}
		if voided {
			upd.PasswordHash, upd.PasswordUnproven, upd.PasswordChangedAt = &none, &no, &now
		}
		return upd, true
	})
	if err != nil {
		return nil, err
	}
	if !voided {
		return u, nil
	}
	client = cleanClient(client)
	if _, err := m.EndUserSessions(ctx, u.ID, EndPasswordChanged, Actor{Type: ActorSystem}, ""); err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventEmailProven, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: ipText(client.IP), UserAgent: client.UserAgent,
		Data: jsonObject("passwordVoided", true)}, nil)
	return u, nil
}

// writeProven writes what an owner's proof of the email (a reset code, a
// magic link) decides from the account as read (decide returns false: no
// write), conditional on the password hash read and spending every other
// unused code and link of the account in the same store operation. When a
// password change landed in between, it reads again and decides again: the
// owner's proof wins, the racing write never lands on top of it.
func (m *Manager) writeProven(ctx context.Context, u *User, decide func(*User) (UserUpdate, bool)) (*User, error) {
	for try := 0; ; try++ {
		upd, write := decide(u)
		if !write {
			return u, nil
		}
		read := u.PasswordHash
		upd.IfPasswordHash, upd.SpendTokens = &read, true
		next, err := m.store.UpdateUser(ctx, u.ID, upd)
		if !errors.Is(err, ErrPasswordChanged) || try == 4 {
			return next, err
		}
		if u, err = m.store.UserByID(ctx, u.ID); err != nil {
			return nil, err
		}
	}
}
