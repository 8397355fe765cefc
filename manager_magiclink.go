package sessionmanager

import (
	"context"
	"encoding/hex"
	"errors"
	"net/mail"
	"strings"
	"time"
)

// MagicLinkOptions are the rules of passwordless (magic-link) login.
type MagicLinkOptions struct {
	// TTL is how long a link is valid (default 15m).
	TTL time.Duration
	// Signup lets an unknown email create an account by following a link.
	Signup bool
	// MailLimits cap link requests per email and per address.
	MailLimits
}

// MailLimits cap the requests that send an email (magic links,
// confirmation, password reset): PerEmail and PerIP requests per Window
// (defaults 5 and 20 per 15m).
type MailLimits struct {
	PerEmail, PerIP int64
	Window          time.Duration
}

func (l MailLimits) withDefaults() MailLimits {
	if l.PerEmail <= 0 {
		l.PerEmail = 5
	}
	if l.PerIP <= 0 {
		l.PerIP = 20
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	return l
}

func (o MagicLinkOptions) withDefaults() MagicLinkOptions {
	if o.TTL <= 0 {
		o.TTL = 15 * time.Minute
	}
	o.MailLimits = o.MailLimits.withDefaults()
	return o
}

// MagicLinkGrant is a link to send: the token in clear (it exists only
// here and in the email) and the stored record.
type MagicLinkGrant struct {
	Token string
	Link  *MagicLink
}

// MagicLinkMail is one sign-in email.
type MagicLinkMail struct {
	To        string
	URL       string
	ExpiresAt time.Time
}

// MagicLinkMailer sends sign-in emails (SMTP in the server).
type MagicLinkMailer interface {
	SendMagicLink(ctx context.Context, m MagicLinkMail) error
}

// LimitMagicLink counts a link request against the per-email and per-IP
// limits and refuses (ETOOMANY) past them. It is answered the same whether
// or not the account exists, so it leaks nothing. The email is counted by
// its keyed hash: no address in clear in the counter store.
func (m *Manager) LimitMagicLink(ctx context.Context, email string, client ClientInfo, opt MagicLinkOptions) error {
	opt = opt.withDefaults()
	if err := checkTexts("email", email); err != nil {
		return err
	}
	digest := m.cfg.Secrets.LookupHash("magic-link-email:" + strings.ToLower(strings.TrimSpace(email)))
	// Every request counts against both limits, refused ones included.
	return m.limitBoth(ctx, []counterLimit{
		{"ml:email:" + hex.EncodeToString(digest[:16]), opt.PerEmail},
		{"ml:" + failKeyIP(client.IP.Unmap()), opt.PerIP},
	}, opt.Window, "Too many sign-in link requests; try again later")
}

// IssueMagicLink creates a single-use sign-in link for the account of
// email, or for a new account when opt.Signup is set. It returns nil (and
// no error) when there is nothing to send: unknown email without sign-up,
// or a blocked account. Only the token's lookup hash is stored.
func (m *Manager) IssueMagicLink(ctx context.Context, email string, client ClientInfo, opt MagicLinkOptions) (*MagicLinkGrant, error) {
	opt = opt.withDefaults()
	email = strings.ToLower(strings.TrimSpace(email))
	if p := textProblem(email); p != "" {
		return nil, InvalidFields(map[string]string{"email": p})
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return nil, InvalidFields(map[string]string{"email": "must be a valid email address"})
	}
	u, err := m.store.UserByIdentifier(ctx, email)
	if err != nil && !IsNotFound(err) {
		return nil, err
	}
	if u != nil && !strings.EqualFold(u.Email, email) {
		u = nil // the identifier matched a username, not this address
	}
	if (u == nil && !opt.Signup) || (u != nil && u.Blocked) {
		return nil, nil
	}
	if u == nil && identityProblem(email) != "" {
		return nil, nil // no account for a look-alike or invisible-character address
	}
	token, _, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	l := &MagicLink{Hash: m.accountTokenHash(tokenMagicLink, token), Email: email, IP: client.IP.Unmap().String(), CreatedAt: now, ExpiresAt: now.Add(opt.TTL)}
	e := &Event{Type: EventMagicLinkSent, ActorType: ActorUser, IP: l.IP, UserAgent: client.UserAgent, Data: jsonObject("signup", u == nil)}
	if u != nil {
		l.UserID, e.UserID, e.ActorID = u.ID, u.ID, u.ID
	} else {
		e.Personal = jsonObject("email", email)
	}
	links, err := m.magicLinks()
	if err != nil {
		return nil, err
	}
	if err := links.CreateMagicLink(ctx, l); err != nil {
		return nil, err
	}
	m.audit(ctx, e, nil)
	return &MagicLinkGrant{Token: token, Link: l}, nil
}

// VerifyMagicLink spends a sign-in link and starts a session with the
// same pipeline as a password login (device, geo, risk, alerts). Each
// call is counted against the client's address first, like a password
// attempt (the same counter and limits); a spent link gives it back. Of
// concurrent calls with one token exactly one succeeds; the others, like an
// expired or unknown link, get EINVALID with reason link_used, link_expired
// or link_unknown.
func (m *Manager) VerifyMagicLink(ctx context.Context, token string, client ClientInfo) (*LoginResult, error) {
	links, err := m.magicLinks()
	if err != nil {
		return nil, err
	}
	// Every verification counts against the address like a password
	// attempt before the link is looked up; only a good link gives it back.
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, "", failKeyIP(client.IP.Unmap()))
	if err != nil {
		return nil, err
	}
	// Only a token of the shape this service sends is looked up, and only
	// as a sign-in link: a confirmation or reset token never signs in.
	if !m.cfg.Secrets.ValidToken(token) {
		return nil, &Error{Code: EINVALID, Message: "this sign-in link is not valid", Reason: "link_unknown"}
	}
	now := m.clock.Now()
	l, err := links.ConsumeMagicLink(ctx, m.accountTokenHash(tokenMagicLink, token), now)
	if e := (*Error)(nil); errors.As(err, &e) && e.Reason == "link_unknown" {
		// A link issued before sign-in links had their own purpose was
		// stored under the bare token's hash (short-lived: this fallback can
		// go one release later). Account tokens are stored under
		// "purpose:token", which no base64url token hashes to.
		l, err = links.ConsumeMagicLink(ctx, m.cfg.Secrets.LookupHash(token), now)
	}
	if err != nil {
		return nil, err
	}
	try.succeeded(ctx)
	var u *User
	if l.UserID != "" {
		u, err = m.store.UserByID(ctx, l.UserID)
	} else {
		u, err = m.signupUser(ctx, l.Email, client)
	}
	if IsNotFound(err) {
		return nil, &Error{Code: EINVALID, Message: "this sign-in link is not valid", Reason: "link_unknown"}
	}
	if err != nil {
		return nil, err
	}
	// The link proves the email: a password nobody proved dies here.
	if u, err = m.proveEmail(ctx, u, client); err != nil {
		return nil, err
	}
	return m.StartSession(ctx, u, AuthMagicLink, client)
}

// magicLinks is the store's MagicLinkStore (an optional ability).
func (m *Manager) magicLinks() (MagicLinkStore, error) {
	links, ok := m.store.(MagicLinkStore)
	if !ok {
		return nil, Errorf(EUNAVAILABLE, "magic links are not supported by this store")
	}
	return links, nil
}

// signupUser returns the account of email, creating it (without a
// password) when it does not exist yet.
func (m *Manager) signupUser(ctx context.Context, email string, client ClientInfo) (*User, error) {
	base := email[:strings.IndexByte(email, '@')]
	if len(base) < 3 || len(base) > 48 || strings.ContainsAny(base, " \t") {
		base = "user"
	}
	for attempt := 0; attempt < 3; attempt++ {
		if u, err := m.store.UserByIdentifier(ctx, email); err == nil && strings.EqualFold(u.Email, email) {
			return u, nil
		} else if err != nil && !IsNotFound(err) {
			return nil, err
		}
		name := base
		if attempt > 0 {
			name = base + "-" + newID()[:6]
		}
		now := m.clock.Now()
		u := &User{ID: newID(), Email: email, Username: name, Confirmed: true, CreatedAt: now, UpdatedAt: now}
		err := m.store.CreateUser(ctx, u)
		if err == nil {
			m.audit(ctx, &Event{Type: EventUserRegistered, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: ipText(client.IP), UserAgent: client.UserAgent, Data: jsonObject("method", AuthMagicLink)}, nil)
			return u, nil
		}
		if ErrorCode(err) != ECONFLICT {
			return nil, err
		}
	}
	return nil, Errorf(ECONFLICT, "could not create an account for this email; try again")
}
