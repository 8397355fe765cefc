package sessionmanager

import (
	"context"
	"errors"
	"time"
)

// terminated is the 401 of a request on an ended session.
func terminated(reason EndReason) *Error { return SessionTerminated(reason) }

// invalidToken is the one answer for every kind of bad token.
func invalidToken() *Error {
	return &Error{Code: EUNAUTHORIZED, Message: "Invalid token", Reason: "invalid_token"}
}

// Authenticate is the hot path of every authenticated request: verify the
// access token (cached), check the session's state (cached, invalidated by
// the bus, bounded staleness) and note the activity in memory.
func (m *Manager) Authenticate(ctx context.Context, accessToken string) (Principal, error) {
	return m.authenticate(ctx, accessToken, true, &ClientInfo{})
}

// AuthenticateRequest is Authenticate for a request whose client is known:
// session protection compares the client with the session's record, and a
// token bound to a key (DPoP) needs client.DPoP to prove it.
func (m *Manager) AuthenticateRequest(ctx context.Context, accessToken string, client ClientInfo) (Principal, error) {
	return m.authenticate(ctx, accessToken, true, &client)
}

// Check is Authenticate without noting activity: for services that ask
// about a token (introspection), which is not the user being active. It
// checks no DPoP proof: a bound token's Claims.JKT names the key whose
// proof the caller must check (or use CheckRequest).
func (m *Manager) Check(ctx context.Context, accessToken string) (Principal, error) {
	return m.authenticate(ctx, accessToken, false, nil)
}

// CheckRequest is Check with the client's proof of possession (DPoP), for
// introspection on behalf of a resource server.
func (m *Manager) CheckRequest(ctx context.Context, accessToken string, client ClientInfo) (Principal, error) {
	return m.authenticate(ctx, accessToken, false, &client)
}

func (m *Manager) authenticate(ctx context.Context, accessToken string, activity bool, client *ClientInfo) (Principal, error) {
	if m.availability() == Unavailable {
		return Principal{}, &Error{Code: EUNAVAILABLE, Message: "Session state cannot be checked right now; try again", Reason: "state_unavailable"}
	}
	now := m.clock.Now()
	claims, err := m.cfg.Tokens.Verify(accessToken, now)
	if err != nil {
		return Principal{}, invalidToken()
	}
	if err := m.checkProof(ctx, accessToken, &claims, client, now); err != nil {
		return Principal{}, err
	}
	st, err := m.sessionState(ctx, claims.SessionID, claims.Subject, now)
	if err != nil {
		return Principal{}, err
	}
	if st.userID != claims.Subject {
		return Principal{}, invalidToken()
	}
	if st.status == StatusEnded {
		return Principal{}, terminated(st.reason)
	}
	if !now.Before(st.expiresAt) {
		return Principal{}, terminated(EndExpired)
	}
	if activity {
		// Judged before the activity is noted: the session's last activity
		// is the "last known there" of a move.
		if err := m.watch(ctx, claims.SessionID, &st, client, now); err != nil {
			return Principal{}, err
		}
		m.noteSeen(claims.SessionID, now)
	}
	return Principal{UserID: claims.Subject, Email: st.email, SessionID: claims.SessionID, Claims: claims}, nil
}

// sessionState returns the state from the cache or, when missing or stale,
// from the store. sid and sub are the token's: the cached state keeps
// their memory (shared with the verified-token cache) rather than the
// store's copies.
func (m *Manager) sessionState(ctx context.Context, sid, sub string, now time.Time) (sessionState, error) {
	cached, ok := m.states.get(sid, sub, now)
	if ok && (cached.status == StatusEnded || m.availability() != Degraded) {
		return cached, nil
	}
	s, err := m.store.SessionByID(ctx, sid)
	if IsNotFound(err) {
		// Deleted (purged or erased): nothing may use it any more.
		st := sessionState{status: StatusEnded, reason: EndManual, fetched: now}
		return st, nil
	}
	if err != nil {
		return sessionState{}, WrapError(EUNAVAILABLE, "session state unavailable; try again", err)
	}
	uid := s.UserID
	if uid == sub {
		uid = sub
	}
	st := sessionState{userID: uid, email: s.UserEmail, status: s.Status, reason: s.EndReason, expiresAt: s.ExpiresAt, fetched: now}
	st.fp = fingerprintOf(s)
	if cached.fp != 0 {
		// A stale entry's fingerprint is this instance's latest judgement.
		st.fp = cached.fp
	}
	m.states.put(sid, st)
	return st, nil
}

// Session returns a session by id.
func (m *Manager) Session(ctx context.Context, id string) (*Session, error) {
	return m.store.SessionByID(ctx, id)
}

// Refresh rotates a refresh token: the old one is spent, a new pair is
// returned. A retry with the previous token inside the grace window gets
// the same new refresh token; a reuse after it is theft: the session ends
// with reason refresh_reuse.
func (m *Manager) Refresh(ctx context.Context, refreshToken string, client ClientInfo) (*LoginResult, error) {
	now := m.clock.Now().Truncate(time.Microsecond) // the stores' precision
	if refreshToken == "" || len(refreshToken) > 128 {
		return nil, invalidToken()
	}
	hash := m.cfg.Secrets.LookupHash(refreshToken)
	rt, err := m.store.RefreshTokenByHash(ctx, hash)
	if IsNotFound(err) {
		return nil, invalidToken()
	} else if err != nil {
		return nil, err
	}
	s, err := m.liveSession(ctx, rt.SessionID, "", now)
	if err != nil {
		return nil, err
	}
	if err := m.checkRefreshProof(ctx, s, client, now); err != nil {
		return nil, err
	}
	if !rt.ReplacedAt.IsZero() {
		return m.refreshReplaced(ctx, s, rt, now, client)
	}
	if err := m.guardRefresh(ctx, s, client, now); err != nil {
		return nil, err
	}
	next, nextHash, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	sealed, err := m.cfg.Secrets.Seal([]byte(next), []byte(s.ID))
	if err != nil {
		return nil, err
	}
	// Rotation times are strictly increasing per session, so "replaced at
	// the session's last rotation" names exactly the previous token.
	at := now
	if !at.After(s.RefreshRotatedAt) {
		at = s.RefreshRotatedAt.Add(time.Microsecond)
	}
	err = m.store.RotateRefreshToken(ctx, RotateRefresh{SessionID: s.ID, OldHash: hash, NewHash: nextHash, NewSealed: sealed, At: at})
	if ErrorCode(err) == ECONFLICT {
		// A concurrent refresh with the same token won: answer like a retry.
		s2, err2 := m.store.SessionByID(ctx, s.ID)
		rt2, err3 := m.store.RefreshTokenByHash(ctx, hash)
		if err2 != nil || err3 != nil {
			return nil, errors.Join(err2, err3)
		}
		if s2.Status == StatusEnded {
			return nil, terminated(s2.EndReason)
		}
		return m.refreshReplaced(ctx, s2, rt2, now, client)
	}
	if err != nil {
		return nil, err
	}
	return m.issuePair(ctx, s, next, now)
}

// liveSession reads a session that must still authorise requests (of
// userID, when not empty): a missing one (or another user's) is an invalid
// token, an ended one is refused with its reason, and an expired one is
// ended and refused.
func (m *Manager) liveSession(ctx context.Context, id, userID string, now time.Time) (*Session, error) {
	s, err := m.store.SessionByID(ctx, id)
	if IsNotFound(err) || (err == nil && userID != "" && s.UserID != userID) {
		return nil, invalidToken()
	} else if err != nil {
		return nil, err
	}
	if s.Status == StatusEnded {
		return nil, terminated(s.EndReason)
	}
	if !now.Before(s.ExpiresAt) {
		_ = m.EndSession(ctx, s.ID, EndExpired, Actor{Type: ActorSystem})
		return nil, terminated(EndExpired)
	}
	return s, nil
}

// refreshReplaced answers a refresh with a token that was already rotated.
func (m *Manager) refreshReplaced(ctx context.Context, s *Session, rt *RefreshToken, now time.Time, client ClientInfo) (*LoginResult, error) {
	// Only the immediate predecessor of the current token, inside the grace
	// window, is a retry; anything else is a replay of a spent token. The
	// window is bounded on both sides: a clock stepped back (or an instance
	// whose clock is behind) gets at most the same grace, never more.
	since := now.Sub(rt.ReplacedAt)
	if rt.ReplacedAt.Equal(s.RefreshRotatedAt) && since >= -m.cfg.RefreshGrace && since <= m.cfg.RefreshGrace {
		// A retry is still a refresh: session protection (a pending
		// challenge, a device change) applies as to the rotation itself.
		if err := m.guardRefresh(ctx, s, client, now); err != nil {
			return nil, err
		}
		cur, err := m.cfg.Secrets.Open(s.RefreshSealed, []byte(s.ID))
		if err != nil {
			return nil, err
		}
		return m.issuePair(ctx, s, string(cur), now)
	}
	if err := m.endSession(ctx, s.ID, s.UserID, EndRefreshReuse, Actor{Type: ActorSystem}, client); err != nil {
		return nil, err
	}
	return nil, terminated(EndRefreshReuse)
}

// currentTokens is the token pair Strapi 5's change-password hands the
// client: a new access token for p's session, still live, with its current
// refresh token (the one the client holds; nothing is rotated, so a client
// that keeps its old pair loses nothing). u is the user as just written.
func (m *Manager) currentTokens(ctx context.Context, p Principal, u *User) (*LoginResult, error) {
	now := m.clock.Now()
	s, err := m.liveSession(ctx, p.SessionID, p.UserID, now)
	if err != nil {
		return nil, err
	}
	cur, err := m.cfg.Secrets.Open(s.RefreshSealed, []byte(s.ID))
	if err != nil {
		return nil, err
	}
	return m.issuePairFor(ctx, s, u, string(cur), now)
}

func (m *Manager) issuePair(ctx context.Context, s *Session, refresh string, now time.Time) (*LoginResult, error) {
	return m.issuePairFor(ctx, s, nil, refresh, now)
}

// issuePairFor is issuePair for the session's user u when the caller
// holds it (nil: read it).
func (m *Manager) issuePairFor(ctx context.Context, s *Session, u *User, refresh string, now time.Time) (*LoginResult, error) {
	access, claims, err := m.cfg.Tokens.Issue(ctx, s.UserID, s.ID, s.AuthContext, s.DPoPJKT, now)
	if err != nil {
		return nil, err
	}
	m.noteSeen(claims.SessionID, now)
	if u == nil {
		if u, err = m.store.UserByID(ctx, s.UserID); err != nil {
			return nil, err
		}
	}
	if u.Blocked {
		_ = m.EndSession(ctx, s.ID, EndBlocked, Actor{Type: ActorSystem})
		return nil, terminated(EndBlocked)
	}
	return &LoginResult{AccessToken: access, Claims: claims, RefreshToken: refresh, User: u, Session: s}, nil
}

// EndSession ends one session (logout, force logout, eviction...). Its
// access and refresh tokens stop working at once, on every instance.
// ENOTFOUND when there is no such session; nil when it had already ended.
func (m *Manager) EndSession(ctx context.Context, id string, reason EndReason, actor Actor) error {
	s, err := m.store.SessionByID(ctx, id)
	if err != nil {
		return err
	}
	return m.endSession(ctx, s.ID, s.UserID, reason, actor, ClientInfo{})
}

func (m *Manager) endSession(ctx context.Context, sid, userID string, reason EndReason, actor Actor, client ClientInfo) error {
	now := m.clock.Now()
	ended, err := m.store.EndSession(ctx, sid, reason, now)
	if err != nil {
		return err
	}
	m.afterEnd(ctx, sid, userID, reason, now)
	if !ended {
		return nil
	}
	e := &Event{Type: EventSessionEnded, ActorType: actor.Type, ActorID: actor.ID, UserID: userID, SessionID: sid, IP: actor.IP, Data: actorData(actor, "reason", reason)}
	var in *AlertInput
	if reason == EndRefreshReuse {
		e.Type = EventRefreshReuse
		e.IP, e.UserAgent = ipText(client.IP), client.UserAgent
		s, _ := m.store.SessionByID(ctx, sid)
		u, _ := m.store.UserByID(ctx, userID)
		in = &AlertInput{User: u, Session: s}
		if s != nil {
			in.Location, in.Threat, in.Device = s.Location, s.Threat, s.Device
		}
	}
	m.audit(ctx, e, in)
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.SessionEnded(reason)
	}
	return nil
}

// afterEnd updates this instance's caches and tells the others.
func (m *Manager) afterEnd(ctx context.Context, sid, userID string, reason EndReason, now time.Time) {
	m.states.markEnded(sid, userID, reason, now)
	m.seen.forget(sid)
	m.protect.forget(sid)
	m.publish(ctx, Message{Kind: MsgSessionEnded, SessionID: sid, UserID: userID, Reason: reason})
}

// EndUserSessions ends all of a user's live sessions but exceptID; it
// returns how many ended.
func (m *Manager) EndUserSessions(ctx context.Context, userID string, reason EndReason, actor Actor, exceptID string) (int, error) {
	now := m.clock.Now()
	ids, err := m.store.EndUserSessions(ctx, userID, reason, now, exceptID)
	if err != nil {
		return 0, err
	}
	m.afterEndAll(ctx, ids, userID, reason, actor, now)
	return len(ids), nil
}

// afterEndAll follows a store operation that ended several of a user's
// sessions: caches, the bus, the audit event and the metric of each.
func (m *Manager) afterEndAll(ctx context.Context, ids []string, userID string, reason EndReason, actor Actor, now time.Time) {
	for _, sid := range ids {
		m.afterEnd(ctx, sid, userID, reason, now)
		m.audit(ctx, &Event{Type: EventSessionEnded, ActorType: actor.Type, ActorID: actor.ID, UserID: userID, SessionID: sid, IP: actor.IP, Data: actorData(actor, "reason", reason)}, nil)
		if m.cfg.Metrics != nil {
			m.cfg.Metrics.SessionEnded(reason)
		}
	}
}

// SetBlocked blocks a user (ends all their sessions, refuses new logins and
// refreshes) or unblocks them; the actor is the one ctx carries.
func (m *Manager) SetBlocked(ctx context.Context, userID string, blocked bool) (*User, error) {
	actor := ActorFrom(ctx)
	now := m.clock.Now()
	u, err := m.store.UpdateUser(ctx, userID, UserUpdate{Blocked: &blocked, UpdatedAt: now})
	if err != nil {
		return nil, err
	}
	typ := EventUserUnblocked
	if blocked {
		typ = EventUserBlocked
		if _, err := m.EndUserSessions(ctx, userID, EndBlocked, actor, ""); err != nil {
			return nil, err
		}
	}
	m.audit(ctx, &Event{Type: typ, ActorType: actor.Type, ActorID: actor.ID, UserID: userID, IP: actor.IP, Data: actorData(actor)}, nil)
	return u, nil
}

// ChangePassword checks the current password, sets the new one, ends the
// user's other sessions and returns p's session's token pair (currentTokens;
// nil when p names no session).
func (m *Manager) ChangePassword(ctx context.Context, p Principal, current, next string, actor Actor) (*LoginResult, error) {
	if err := checkTexts("currentPassword", current, "password", next); err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	wrong := &Error{Code: EINVALID, Message: "The provided current password is invalid", Fields: map[string]string{"currentPassword": "does not match"}}
	if u.PasswordHash == "" {
		return nil, wrong
	}
	// A stolen access token must not buy unlimited guesses of the password.
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, failKeyAccount(u.ID), "")
	if err != nil {
		return nil, err
	}
	ok, err := m.cfg.Passwords.Verify(u.PasswordHash, current)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, wrong
	}
	try.succeeded(ctx)
	if err := m.validatePassword(next); err != nil {
		return nil, err
	}
	hash, err := m.cfg.Passwords.Hash(next)
	if err != nil {
		return nil, err
	}
	// Written only over the hash just checked, with the proof state as read
	// and every older code or link spent: a change that raced the owner's
	// proof or a reset fails instead of reviving the voided password.
	now, unproven, read := m.clock.Now(), u.PasswordUnproven, u.PasswordHash
	updated, err := m.store.UpdateUser(ctx, u.ID, UserUpdate{PasswordHash: &hash, PasswordUnproven: &unproven, PasswordChangedAt: &now, UpdatedAt: now,
		IfPasswordHash: &read, SpendTokens: true})
	if err != nil {
		return nil, err
	}
	if _, err := m.EndUserSessions(ctx, u.ID, EndPasswordChanged, actor, p.SessionID); err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventPasswordChanged, ActorType: actor.Type, ActorID: actor.ID, UserID: u.ID, SessionID: p.SessionID, IP: actor.IP}, nil)
	if p.SessionID == "" {
		return nil, nil
	}
	// The user as written (no second read for the answer's user).
	return m.currentTokens(ctx, p, updated)
}

// validatePassword checks a new password against the policy, naming the
// password field when it fails.
func (m *Manager) validatePassword(password string) error {
	if err := m.cfg.ValidatePassword(password); err != nil {
		return &Error{Code: EINVALID, Message: "invalid password", Fields: map[string]string{"password": passwordProblem(err)}, Cause: err}
	}
	return nil
}

// passwordProblem is what a password policy's refusal says about the
// password field: the field's own message when the policy named it, else
// its client-safe message.
func passwordProblem(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if msg := e.Fields["password"]; msg != "" {
			return msg
		}
		return e.Message
	}
	return err.Error()
}
