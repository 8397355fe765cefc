package sessionmanager

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// "This wasn't me": the email about a sign-in (the user's new sign-in
// email, and any alert email to the user) carries a signed link to
// ReportPath. Following it shows a confirm page (no change on GET: mail
// scanners prefetch links); confirming ends that session (or all the
// user's), requires a password reset before the next password login,
// records session.reported and fires the alert trigger user_reported.
//
// The link is not stored anywhere: it is the session id and an expiry,
// signed with the keyed lookup hash (Secrets.LookupHash), so the outbox
// never holds a usable link (the email sender mints it when it sends).
// It works once: the first confirmation stores the used link's keyed hash
// (in the magic-link table, under its own purpose), and a second one
// collides with it.

// ReportPath is the path of the "This wasn't me" page on the service.
const ReportPath = "/api/auth/report"

// DefaultReportLinkTTL is how long a "This wasn't me" link works.
const DefaultReportLinkTTL = 7 * 24 * time.Hour

// tokenSessionReport is the purpose of a spent report link's hash.
const tokenSessionReport = "session_report"

// ReportLinks mints the "This wasn't me" links of emails to users.
type ReportLinks struct {
	Secrets Secrets
	// BaseURL is the service's public URL (SM_PUBLIC_URL), e.g.
	// https://auth.example.com; empty: no link.
	BaseURL string
	// TTL is how long a link works (default DefaultReportLinkTTL).
	TTL time.Duration
}

// URL is the link for the session signed in at occurredAt ("" when links
// are not configured).
func (r ReportLinks) URL(sessionID string, occurredAt time.Time) string {
	if r.Secrets == nil || r.BaseURL == "" || !reportableID(sessionID) {
		return ""
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = DefaultReportLinkTTL
	}
	return strings.TrimRight(r.BaseURL, "/") + ReportPath + "?token=" + url.QueryEscape(reportToken(r.Secrets, sessionID, occurredAt.Add(ttl)))
}

// reportableID keeps a session id that the token's format can carry.
func reportableID(id string) bool {
	return id != "" && len(id) <= 128 && !strings.ContainsAny(id, ". /?&#%+")
}

// reportToken is "<session id>.<expiry unix>.<mac>".
func reportToken(sec Secrets, sessionID string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return sessionID + "." + e + "." + base64.RawURLEncoding.EncodeToString(reportMAC(sec, sessionID, e))
}

func reportMAC(sec Secrets, sessionID, exp string) []byte {
	return sec.LookupHash("session-report:" + sessionID + ":" + exp)
}

// parseReportToken checks the token's signature (in constant time) and
// returns its session id and expiry.
func parseReportToken(sec Secrets, token string) (sessionID string, exp time.Time, ok bool) {
	if len(token) > 256 {
		return "", time.Time{}, false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !reportableID(parts[0]) {
		return "", time.Time{}, false
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(parts[2]) // one spelling per link: the spent record is keyed on it
	if err != nil || !hmac.Equal(mac, reportMAC(sec, parts[0], parts[1])) {
		return "", time.Time{}, false
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], time.Unix(n, 0), true
}

// SessionReport is what a "This wasn't me" link is about.
type SessionReport struct {
	// Session is the reported session.
	Session *Session
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time
	// Ended is how many sessions the report ended (ReportSession only).
	Ended int
	// Removed counts, by method ("webauthn", "totp", "recovery_code",
	// "trusted_device"), what was added at or after the reported
	// session's login and removed (ReportSession only).
	Removed map[string]int
}

func reportLinkError(reason, msg string) *Error {
	return &Error{Code: EINVALID, Message: msg, Reason: reason, Fields: map[string]string{"token": msg}}
}

// checkReport verifies a report link and reads its session.
func (m *Manager) checkReport(ctx context.Context, token string) (*SessionReport, error) {
	unknown := reportLinkError("link_unknown", "this link is not valid")
	sid, exp, ok := parseReportToken(m.cfg.Secrets, strings.TrimSpace(token))
	if !ok {
		return nil, unknown
	}
	if !m.clock.Now().Before(exp) {
		return nil, reportLinkError("link_expired", "this link has expired")
	}
	s, err := m.store.SessionByID(ctx, sid)
	if IsNotFound(err) {
		return nil, unknown
	}
	if err != nil {
		return nil, err
	}
	return &SessionReport{Session: s, ExpiresAt: exp}, nil
}

// CheckSessionReport verifies a "This wasn't me" link and returns its
// session for the confirm page; it changes nothing. An expired or unknown
// link is EINVALID (reason link_expired, link_unknown); a session already
// reported answers link_used.
func (m *Manager) CheckSessionReport(ctx context.Context, token string) (*SessionReport, error) {
	r, err := m.checkReport(ctx, token)
	if err != nil {
		return nil, err
	}
	if r.Session.EndReason == EndReported {
		return nil, reportLinkError("link_used", "this session was already reported")
	}
	return r, nil
}

// ReportSession is the user's "This wasn't me": it spends the link (once;
// of concurrent calls exactly one wins, the others get link_used), ends the
// session at once on every instance (all the user's sessions with endAll),
// requires a password reset before the next sign-in (resetPending),
// removes the factors and trusted devices added at or after the reported
// session's login (removeFactorsSince), records session.reported and fires
// the alert trigger user_reported.
func (m *Manager) ReportSession(ctx context.Context, token string, endAll bool, client ClientInfo) (*SessionReport, error) {
	token = strings.TrimSpace(token)
	r, err := m.checkReport(ctx, token)
	if err != nil {
		return nil, err
	}
	s := r.Session
	if s.EndReason == EndReported {
		// Reported already (by its own link, or by "all my sessions" from
		// another one): nothing more to do, as the confirm page said.
		return nil, reportLinkError("link_used", "this session was already reported")
	}
	u, err := m.store.UserByID(ctx, s.UserID)
	if IsNotFound(err) {
		return nil, reportLinkError("link_unknown", "this link is not valid")
	}
	if err != nil {
		return nil, err
	}
	links, err := m.magicLinks()
	if err != nil {
		return nil, err
	}
	client = cleanClient(client)
	now := m.clock.Now()
	// Spent first, by inserting its hash as used: a second confirmation
	// (a replay, a double click, a racing request) collides and changes
	// nothing.
	spent := &MagicLink{Hash: m.accountTokenHash(tokenSessionReport, token), Email: u.Email, UserID: u.ID, IP: ipText(client.IP),
		CreatedAt: now, ExpiresAt: r.ExpiresAt, UsedAt: now}
	if err := links.CreateMagicLink(ctx, spent); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, reportLinkError("link_used", "this session was already reported")
		}
		return nil, err
	}
	actor := Actor{Type: ActorUser, ID: u.ID, IP: ipText(client.IP)}
	yes := true
	if _, err := m.store.UpdateUser(ctx, u.ID, UserUpdate{PasswordResetRequired: &yes, UpdatedAt: now}); err != nil {
		return nil, err
	}
	removed, err := m.removeFactorsSince(ctx, u, s, s.CreatedAt, actor)
	if err != nil {
		return nil, err
	}
	r.Removed = removed
	if err := m.endSession(ctx, s.ID, s.UserID, EndReported, actor, ClientInfo{}); err != nil {
		return nil, err
	}
	r.Ended = 1
	if s.Status == StatusEnded {
		r.Ended = 0
	}
	if endAll {
		n, err := m.EndUserSessions(ctx, u.ID, EndReported, actor, "")
		if err != nil {
			return nil, err
		}
		r.Ended += n
	}
	e := &Event{Type: EventSessionReported, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, SessionID: s.ID, Country: s.Location.CountryCode,
		IP: ipText(client.IP), UserAgent: client.UserAgent,
		Data: jsonObject("endAll", endAll, "ended", r.Ended, "removed", removed, "device", s.Device, "threat", s.Threat, "score", s.Score, "method", s.AuthMethod),
		// The reported session's place: what the admins are told about.
		Personal: jsonObject("location", s.Location, "sessionIp", ipText(s.IP))}
	m.audit(ctx, e, &AlertInput{User: u, Session: s, Location: s.Location, Threat: s.Threat, Device: s.Device})
	return r, nil
}

// passwordResetRequired answers a correct password of an account whose
// owner reported a session as not theirs.
func passwordResetRequired() *Error {
	return &Error{Code: EFORBIDDEN, Message: "A password reset is required for this account: use \"forgot password\" to choose a new one", Reason: ReasonPasswordResetRequired}
}

// resetPending refuses a sign-in or a step-up of an account whose owner
// reported a session as not theirs, until its password is reset: whoever
// holds the password, a passkey or a session may be the thief. Checked by
// password login, passkey sign-in, a challenge's verify and step-up; the
// reset itself clears the flag. A sign-in link (magic link) is not
// refused: it proves the mailbox, which is exactly what the reset flow
// proves, so refusing it would protect nothing.
func resetPending(u *User) error {
	if u.PasswordResetRequired {
		return passwordResetRequired()
	}
	return nil
}

// ReasonPasswordResetRequired is the reason of a password login refused
// until the account's password is reset.
const ReasonPasswordResetRequired = "password_reset_required"
