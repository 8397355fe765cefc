package httpapi

import (
	"context"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// MagicLinkConfig enables passwordless login (POST /api/auth/magic-link).
type MagicLinkConfig struct {
	// URL is where a link points, the token appended, e.g.
	// https://app.example.com/auth/magic?token= (SM_MAGIC_LINK_URL).
	URL     string
	Options sm.MagicLinkOptions
	Mailer  sm.MagicLinkMailer
	// MaxPending bounds the emails being sent at once (default 32).
	MaxPending int

	base *url.URL
}

// NewMagicLinkConfig validates the link URL and returns the configuration.
func NewMagicLinkConfig(linkURL string, opt sm.MagicLinkOptions, mailer sm.MagicLinkMailer) (*MagicLinkConfig, error) {
	if err := checkLinkURL(linkURL); err != nil {
		return nil, sm.Errorf(sm.EINVALID, "the magic link URL must be an absolute http(s) URL without user info or fragment, e.g. https://app.example.com/auth/magic?token=")
	}
	if mailer == nil {
		return nil, sm.Errorf(sm.EINVALID, "magic links need a mailer (SMTP_URL)")
	}
	u, _ := url.Parse(linkURL)
	c := &MagicLinkConfig{URL: linkURL, Options: opt, Mailer: mailer, base: u}
	return c, nil
}

// checkLinkURL accepts the base of an emailed link: an absolute http(s)
// URL without user info or fragment.
func checkLinkURL(link string) error {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return sm.Errorf(sm.EINVALID, "not an absolute http(s) URL without user info or fragment")
	}
	return nil
}

// linkWith appends param=value to an emailed link's base; a base that ends
// in "=" takes the value as is.
func linkWith(base, param, value string) string {
	var b strings.Builder
	b.WriteString(base)
	switch {
	case strings.HasSuffix(base, "="):
	case strings.Contains(base, "?"):
		b.WriteString("&" + param + "=")
	default:
		b.WriteString("?" + param + "=")
	}
	b.WriteString(url.QueryEscape(value))
	return b.String()
}

// link is the URL sent by email: the token, then a same-origin redirect.
func (c *MagicLinkConfig) link(token, redirect string) string {
	l := linkWith(c.URL, "token", token)
	if redirect != "" {
		l += "&redirect=" + url.QueryEscape(redirect)
	}
	return l
}

// sameOrigin resolves a redirect against the link URL and accepts it only
// when it stays on the link's origin: no open redirect through our emails.
func (c *MagicLinkConfig) sameOrigin(redirect string) (string, bool) {
	if strings.HasPrefix(redirect, "//") || strings.ContainsAny(redirect, "\\\r\n\t") {
		return "", false
	}
	r, err := url.Parse(redirect)
	if err != nil || r.User != nil {
		return "", false
	}
	abs := c.base.ResolveReference(r)
	if abs.Scheme != c.base.Scheme || !strings.EqualFold(abs.Host, c.base.Host) {
		return "", false
	}
	return abs.String(), true
}

type magicLinkRequest struct {
	Email    string `json:"email"`
	Redirect string `json:"redirect"`
	Next     string `json:"next"`
}

func (q magicLinkRequest) Valid() map[string]string {
	bad := map[string]string{}
	e := strings.TrimSpace(q.Email)
	if e == "" {
		bad["email"] = "is required"
	} else if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
		bad["email"] = "must be a valid email address"
	}
	if len(q.Redirect) > 2048 || len(q.Next) > 2048 {
		bad["redirect"] = "is too long"
	}
	return bad
}

// handleMagicLinkRequest always answers 202 after the same work (input
// checks and rate limits), whether or not the account exists; the lookup,
// the link and the email happen after the response.
func (s *server) handleMagicLinkRequest() http.Handler {
	c := s.MagicLinks
	limit := c.MaxPending
	if limit <= 0 {
		limit = 32
	}
	// Bounds the sends in flight; a burst waits for a slot, none is dropped.
	sending := make(chan struct{}, limit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[magicLinkRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		redirect := req.Redirect
		if redirect == "" {
			redirect = req.Next
		}
		if redirect != "" {
			var ok bool
			if redirect, ok = c.sameOrigin(redirect); !ok {
				s.fail(w, r, &sm.Error{Code: sm.EINVALID, Message: "redirect must stay on the application's origin", Reason: "redirect_not_allowed",
					Fields: map[string]string{"redirect": "must be on the same origin as the sign-in link"}})
				return
			}
		}
		client := s.clientInfo(r)
		if err := s.Manager.LimitMagicLink(r.Context(), req.Email, client, c.Options); err != nil {
			s.fail(w, r, err)
			return
		}
		select {
		case sending <- struct{}{}:
			if !s.background.Go(r.Context(), func(ctx context.Context) {
				defer func() { <-sending }()
				s.sendMagicLink(ctx, strings.TrimSpace(req.Email), redirect, client)
			}) {
				<-sending
				s.log.Warn("magic link not sent: shutting down")
			}
		default:
			// Every sender is busy (a slow or down SMTP server): drop this
			// one rather than pile up goroutines; the user can ask again.
			s.log.Warn("magic link not sent: too many sends in flight")
		}
		encode(w, http.StatusAccepted, map[string]any{"ok": true, "message": "If an account exists for this email, a sign-in link is on its way."})
	})
}

// sendMagicLink issues the link and emails it, retrying a failed send a
// few times. Failures are logged without the token or the link.
func (s *server) sendMagicLink(ctx context.Context, email, redirect string, client sm.ClientInfo) {
	c := s.MagicLinks
	grant, err := s.Manager.IssueMagicLink(ctx, email, client, c.Options)
	if err != nil {
		s.log.Error("magic link not issued", "err", err)
		return
	}
	if grant == nil {
		return
	}
	msg := sm.MagicLinkMail{To: grant.Link.Email, URL: c.link(grant.Token, redirect), ExpiresAt: grant.Link.ExpiresAt}
	if err := sendWithRetry(ctx, func(ctx context.Context) error { return c.Mailer.SendMagicLink(ctx, msg) }); err != nil {
		s.log.Error("magic link email not sent", "user", grant.Link.UserID, "err", err)
	}
}

// sendWithRetry tries send up to four times, waiting 1s, 4s and 16s
// between tries, until ctx ends.
func sendWithRetry(ctx context.Context, send func(ctx context.Context) error) error {
	delay := time.Second
	const attempts = 4
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		if err = send(ctx); err == nil {
			return nil
		}
		if attempt < attempts {
			select {
			case <-time.After(delay):
				delay *= 4
			case <-ctx.Done():
				return err
			}
		}
	}
	return err
}

type magicLinkVerifyRequest struct {
	Token string `json:"token"`
}

func (q magicLinkVerifyRequest) Valid() map[string]string {
	if strings.TrimSpace(q.Token) == "" {
		return map[string]string{"token": "is required"}
	}
	return nil
}

// handleMagicLinkVerify spends a link and answers like a password login.
func (s *server) handleMagicLinkVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[magicLinkVerifyRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res, err := s.Manager.VerifyMagicLink(r.Context(), strings.TrimSpace(req.Token), s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeLogin(w, r, http.StatusOK, res)
	})
}
