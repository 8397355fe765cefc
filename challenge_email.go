package sessionmanager

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ChallengeCodeMail is one email with a challenge code.
type ChallengeCodeMail struct {
	To       string
	Username string
	// Code is the six digits, in clear only here and in the email.
	Code      string
	ExpiresAt time.Time
}

// ChallengeMailer sends challenge codes by email (SMTP in the server).
// With Config.ChallengeMailer set, the email factor is offered to every
// user with a confirmed email.
type ChallengeMailer interface {
	SendChallengeCode(ctx context.Context, m ChallengeCodeMail) error
}

// emailFactor is the built-in email code factor: six digits, valid
// EmailCodeTTL (never past the challenge), stored only as a keyed hash
// bound to the challenge, so a code of another challenge never matches.
type emailFactor struct{ m *Manager }

func (emailFactor) Method() string { return MethodEmail }

// Offered: the account has a confirmed email (an unproven address could
// be the attacker's own).
func (emailFactor) Offered(_ context.Context, u *User) (bool, error) {
	return u.Confirmed && u.Email != "", nil
}

func (f emailFactor) Verify(_ context.Context, c *Challenge, p Proof) error {
	code := strings.TrimSpace(p.Code)
	// The hash is computed whatever the input, so a malformed code costs
	// what a wrong one does.
	got := f.m.emailCodeHash(c, code)
	if len(c.CodeHash) == 0 {
		return &Error{Code: EINVALID, Message: "No code was sent for this verification; ask for one first", Reason: "code_not_sent"}
	}
	if !f.m.clock.Now().Before(c.CodeExpiresAt) {
		return &Error{Code: EINVALID, Message: "This code has expired; ask for a new one", Reason: "code_expired"}
	}
	if !hmac.Equal(got, c.CodeHash) || !sixDigits(code) {
		return &Error{Code: EINVALID, Message: "This code is not valid", Reason: ReasonInvalidCode, Fields: map[string]string{"code": "is not the code that was sent"}}
	}
	return nil
}

// emailCodeHash is the keyed hash of a code, bound to its challenge.
func (m *Manager) emailCodeHash(c *Challenge, code string) []byte {
	return m.cfg.Secrets.LookupHash("challenge-email-code:" + hex.EncodeToString(c.Hash) + ":" + code)
}

func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// newEmailCode is six uniformly random digits.
func newEmailCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// ChallengeCodeSent is the answer to a code request.
type ChallengeCodeSent struct {
	Method    string    `json:"method"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// SendChallengeCode makes a new email code for a pending challenge and
// sends it; the previous code stops working. The first code is sent only
// when the client asks (a user answering with a passkey or TOTP gets no
// needless email). Requests are limited per client IP (PendingChallenge)
// and per account and per address (Config.ChallengeMail, defaults 20 and
// 5 per 15 minutes; refused requests count too); the challenge must be
// open and asked for from the challenged client.
func (m *Manager) SendChallengeCode(ctx context.Context, id, method string, client ClientInfo) (*ChallengeCodeSent, error) {
	if method != MethodEmail {
		return nil, &Error{Code: EINVALID, Message: "Only email codes are sent", Reason: ReasonMethodNotOffered, Fields: map[string]string{"method": "must be email"}}
	}
	if m.cfg.ChallengeMailer == nil {
		return nil, Errorf(EUNAVAILABLE, "email codes are not configured")
	}
	ch, err := m.PendingChallenge(ctx, id, MethodEmail, client)
	if err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return nil, err
	}
	lim := m.cfg.ChallengeMail.withDefaults()
	digest := m.cfg.Secrets.LookupHash("challenge-email:" + IdentityKey(u.Email))
	if err := m.limitBoth(ctx, []counterLimit{{"cc:acct:" + u.ID, lim.PerEmail}, {"cc:email:" + hex.EncodeToString(digest[:16]), lim.PerEmail}},
		lim.Window, "Too many codes requested; try again later"); err != nil {
		return nil, err
	}
	code, err := newEmailCode()
	if err != nil {
		return nil, err
	}
	expires := m.clock.Now().Add(EmailCodeTTL)
	if expires.After(ch.ExpiresAt) {
		expires = ch.ExpiresAt
	}
	cs, _ := m.challenges()
	if err := cs.SetChallengeCode(ctx, ch.Hash, m.emailCodeHash(ch, code), expires); err != nil {
		return nil, err
	}
	if err := m.cfg.ChallengeMailer.SendChallengeCode(ctx, ChallengeCodeMail{To: u.Email, Username: u.Username, Code: code, ExpiresAt: expires}); err != nil {
		m.log.Error("challenge code not sent", "user", u.ID, "err", err)
		return nil, WrapError(EUNAVAILABLE, "The code could not be sent; try again", err)
	}
	return &ChallengeCodeSent{Method: MethodEmail, ExpiresAt: expires.UTC()}, nil
}
