package sessionmanager

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// MsgAdminSessionEnded tells every instance that a dashboard session ended
// (SessionID is the admin session's id, UserID the admin's).
const MsgAdminSessionEnded = "admin_session.ended"

// Actions of the admin sessions in the audit log (Event.Data "action").
const (
	ActionAdminSignIn          = "admin.sign_in"
	ActionAdminSignOut         = "admin.sign_out"
	ActionAdminSessionEnded    = "admin_session.ended"
	ActionAdminPasswordChanged = "admin.password_changed"
)

// EndTOTPChanged ends an admin's dashboard sessions when their two-factor
// secret changed.
const EndTOTPChanged EndReason = "totp_changed"

// adminAccounts is what the dashboard sessions need of the store.
type adminAccounts interface {
	AdminSessionStore
	AdminByID(ctx context.Context, id string) (*Admin, error)
	SetAdminPassword(ctx context.Context, id, hash string) error
}

func (m *Manager) adminStore() (adminAccounts, error) {
	st, ok := m.store.(adminAccounts)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no admin sessions")
	}
	return st, nil
}

// adminPasswordTries is how many wrong current passwords a password change
// accepts per failed-login window.
const adminPasswordTries = 5

// errAdminSession is the one answer for a missing, ended, idle, expired or
// forged dashboard session.
func errAdminSession() error { return Errorf(EUNAUTHORIZED, "sign in required") }

// StartAdminSession records a dashboard sign-in of adminID and returns the
// token for the cookie (shown only here) and the session.
func (m *Manager) StartAdminSession(ctx context.Context, adminID string, client ClientInfo) (string, *AdminSession, error) {
	st, err := m.adminStore()
	if err != nil {
		return "", nil, err
	}
	token, hash, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return "", nil, err
	}
	now := m.clock.Now()
	s := &AdminSession{ID: newID(), AdminID: adminID, Hash: hash, UserAgent: cleanText(client.UserAgent, 512),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.cfg.AdminSessionTTL)}
	if client.IP.IsValid() {
		s.IP = client.IP.String()
	}
	if err := st.CreateAdminSession(ctx, s); err != nil {
		return "", nil, err
	}
	m.admins.put(s, now)
	if err := st.NoteAdminSignIn(ctx, adminID, now); err != nil {
		m.log.Warn("admin sign-in time not recorded", "err", err)
	}
	actor := Actor{Type: ActorAdmin, ID: adminID, IP: s.IP}
	if a, err := st.AdminByID(ctx, adminID); err == nil {
		actor.Email = a.Email
	}
	m.recordAdminSession(ctx, actor, ActionAdminSignIn, s, client.UserAgent)
	return token, s, nil
}

// CheckAdminSession returns the live dashboard session of a cookie token,
// through a cache that the bus invalidates on every instance (a lost message
// costs at most StateCacheTTL). It ends the session when it is idle or past
// its absolute expiry, and notes activity at most once a minute.
func (m *Manager) CheckAdminSession(ctx context.Context, token string) (*AdminSession, error) {
	return m.checkAdminSession(ctx, token, true)
}

// PeekAdminSession is CheckAdminSession for background requests (live
// updates, automatic refreshes): it does not count as activity, so an
// unattended open dashboard still reaches the idle timeout.
func (m *Manager) PeekAdminSession(ctx context.Context, token string) (*AdminSession, error) {
	return m.checkAdminSession(ctx, token, false)
}

func (m *Manager) checkAdminSession(ctx context.Context, token string, activity bool) (*AdminSession, error) {
	if token == "" || len(token) > 256 {
		return nil, errAdminSession()
	}
	st, err := m.adminStore()
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	hash := m.cfg.Secrets.LookupHash(token)
	fresh := false
	s, ok := m.admins.get(hash, now)
	if !ok || m.availability() == Degraded {
		if s, err = m.readAdminSession(ctx, st, hash, now); err != nil {
			return nil, err
		}
		fresh = true
	}
	if s.Ended() {
		return nil, errAdminSession()
	}
	if !now.Before(s.ExpiresAt) {
		m.endAdminSession(ctx, st, s, EndExpired, Actor{Type: ActorSystem})
		return nil, errAdminSession()
	}
	if idle := m.cfg.AdminIdleTimeout; idle > 0 && now.Sub(s.LastSeenAt) >= idle {
		// Another instance may have seen the session more recently.
		if !fresh {
			if s, err = m.readAdminSession(ctx, st, hash, now); err != nil {
				return nil, err
			}
		}
		if s.Ended() {
			return nil, errAdminSession()
		}
		if now.Sub(s.LastSeenAt) >= idle {
			m.endAdminSession(ctx, st, s, EndIdle, Actor{Type: ActorSystem})
			return nil, errAdminSession()
		}
	}
	if activity && now.Sub(s.LastSeenAt) >= m.adminTouchEvery() {
		if err := st.TouchAdminSession(ctx, s.ID, now); err != nil {
			if IsNotFound(err) { // ended meanwhile
				m.admins.markEnded(s.ID, now)
				return nil, errAdminSession()
			}
			return nil, err
		}
		s.LastSeenAt = now
		m.admins.touch(hash, now)
	}
	return s, nil
}

// adminTouchEvery is how stale a session's stored last-seen may get: a
// minute, or less under a short idle timeout.
func (m *Manager) adminTouchEvery() time.Duration {
	if idle := m.cfg.AdminIdleTimeout; idle > 0 && idle/4 < adminTouchEvery {
		return idle / 4
	}
	return adminTouchEvery
}

// readAdminSession reads a session from the store into the cache.
func (m *Manager) readAdminSession(ctx context.Context, st adminAccounts, hash []byte, now time.Time) (*AdminSession, error) {
	s, err := st.AdminSessionByHash(ctx, hash)
	if IsNotFound(err) {
		return nil, errAdminSession()
	}
	if err != nil {
		return nil, err
	}
	return m.admins.put(s, now), nil
}

// EndAdminSession ends one dashboard session (sign-out, or an admin ending
// it from a list), audited naming the actor ctx carries; ENOTFOUND when it
// is unknown or already ended.
func (m *Manager) EndAdminSession(ctx context.Context, id string, reason EndReason) error {
	st, err := m.adminStore()
	if err != nil {
		return err
	}
	s, err := st.AdminSessionByID(ctx, id)
	if err != nil {
		return err
	}
	if s.Ended() {
		return Errorf(ENOTFOUND, "admin session not found")
	}
	return m.endAdminSession(ctx, st, s, reason, ActorFrom(ctx))
}

func (m *Manager) endAdminSession(ctx context.Context, st adminAccounts, s *AdminSession, reason EndReason, actor Actor) error {
	now := m.clock.Now()
	if err := st.EndAdminSession(ctx, s.ID, now, reason); err != nil {
		if IsNotFound(err) { // someone else ended it first
			m.admins.markEnded(s.ID, now)
		}
		return err
	}
	m.admins.markEnded(s.ID, now)
	m.publish(ctx, Message{Kind: MsgAdminSessionEnded, SessionID: s.ID, UserID: s.AdminID, Reason: reason, At: now})
	action := ActionAdminSessionEnded
	if reason == EndLogout {
		action = ActionAdminSignOut
	}
	m.recordAdminSession(ctx, actor, action, s, "", "reason", string(reason))
	return nil
}

// EndAdminSessions ends every dashboard session of adminID except exceptID
// and returns how many it ended, audited naming the actor ctx carries.
func (m *Manager) EndAdminSessions(ctx context.Context, adminID, exceptID string, reason EndReason) (int, error) {
	actor := ActorFrom(ctx)
	st, err := m.adminStore()
	if err != nil {
		return 0, err
	}
	now := m.clock.Now()
	ids, err := st.EndAdminSessions(ctx, adminID, exceptID, now, reason)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		m.admins.markEnded(id, now)
		m.publish(ctx, Message{Kind: MsgAdminSessionEnded, SessionID: id, UserID: adminID, Reason: reason, At: now})
	}
	if len(ids) > 0 {
		m.recordAdminSession(ctx, actor, ActionAdminSessionEnded, &AdminSession{AdminID: adminID}, "",
			"reason", string(reason), "ended", len(ids), "sessions", ids)
	}
	return len(ids), nil
}

// ListAdminSessions lists the live dashboard sessions of adminID ("" for
// every admin), newest first.
func (m *Manager) ListAdminSessions(ctx context.Context, adminID string) ([]*AdminSession, error) {
	st, err := m.adminStore()
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	list, err := st.ListAdminSessions(ctx, adminID, now)
	if err != nil {
		return nil, err
	}
	// Sessions end as idle lazily, on their next request; a list must not
	// show one as live. The stored last-seen lags by at most adminTouchEvery.
	live := list[:0]
	for _, s := range list {
		if idle := m.cfg.AdminIdleTimeout; idle > 0 && now.Sub(s.LastSeenAt) >= idle+m.adminTouchEvery() {
			if err := m.endAdminSession(ctx, st, s, EndIdle, Actor{Type: ActorSystem}); err != nil && !IsNotFound(err) {
				return nil, err
			}
			continue
		}
		live = append(live, s)
	}
	return live, nil
}

// ChangeAdminPassword replaces an admin's password after checking the
// current one, then ends every other dashboard session of that admin (the
// one making the change, currentSessionID, stays). Audited naming the actor
// ctx carries.
func (m *Manager) ChangeAdminPassword(ctx context.Context, adminID, current, next, currentSessionID string) (ended int, err error) {
	actor := ActorFrom(ctx)
	st, err := m.adminStore()
	if err != nil {
		return 0, err
	}
	a, err := st.AdminByID(ctx, adminID)
	if err != nil {
		return 0, err
	}
	if err := m.checkOwnPassword(ctx, a, current); err != nil {
		return 0, err
	}
	if next == current {
		return 0, InvalidFields(map[string]string{"password": "must differ from the current password"})
	}
	if err := m.validatePassword(next); err != nil {
		return 0, err
	}
	hash, err := m.cfg.Passwords.Hash(next)
	if err != nil {
		return 0, err
	}
	if err := st.SetAdminPassword(ctx, adminID, hash); err != nil {
		return 0, err
	}
	m.recordAdminSession(ctx, actor, ActionAdminPasswordChanged, &AdminSession{AdminID: adminID}, "")
	return m.EndAdminSessions(ctx, adminID, currentSessionID, EndPasswordChanged)
}

// checkOwnPassword checks the current password of a signed-in admin who
// changes their own credentials. The attempt is reserved before the check:
// a stolen dashboard session must not become a password oracle, however
// many requests run in parallel.
func (m *Manager) checkOwnPassword(ctx context.Context, a *Admin, password string) error {
	window := m.failWindow(ctx)
	if n, err := m.fails.Incr(ctx, "admin-password:"+a.ID, window); err != nil {
		return err
	} else if n > adminPasswordTries {
		return &Error{Code: ETOOMANY, Message: "Too many wrong passwords; try again later", Reason: "too_many_attempts", RetryAfterSeconds: int(window / time.Second)}
	}
	if ok, err := m.cfg.Passwords.Verify(a.PasswordHash, password); err != nil || !ok {
		return InvalidFields(map[string]string{"currentPassword": "is not the current password"})
	}
	_ = m.fails.Reset(ctx, "admin-password:"+a.ID)
	return nil
}

// recordAdminSession writes an admin session event to the audit log; a
// failure is logged, as the change is already made.
func (m *Manager) recordAdminSession(ctx context.Context, actor Actor, action string, s *AdminSession, userAgent string, kv ...any) {
	data := map[string]any{"action": action, "adminId": s.AdminID}
	if s.ID != "" {
		data["adminSessionId"] = s.ID
	}
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i].(string)] = kv[i+1]
	}
	if actor.Type == "" {
		actor.Type = ActorAdmin
	}
	addActor(data, actor)
	raw, _ := json.Marshal(data)
	e := &Event{Type: EventAdminAction, ActorType: actor.Type, ActorID: actor.ID, IP: actor.IP, UserAgent: userAgent, Data: raw}
	if err := m.Record(ctx, e); err != nil {
		m.log.Error("admin session event not recorded in the audit log", "action", action, "err", err)
	}
}

// adminCache holds the dashboard sessions read recently, by token hash, and
// the ids of sessions known to be ended (an end is final, even for a read
// that raced it).
type adminCache struct {
	ttl   time.Duration
	keep  time.Duration
	mu    sync.Mutex
	byKey map[string]adminCached
	ended map[string]time.Time
}

type adminCached struct {
	s       AdminSession
	fetched time.Time
}

func newAdminCache(ttl, keep time.Duration) *adminCache {
	return &adminCache{ttl: ttl, keep: keep, byKey: map[string]adminCached{}, ended: map[string]time.Time{}}
}

// get returns a copy of the cached session when fresh enough at now.
func (c *adminCache) get(hash []byte, now time.Time) (*AdminSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[string(hash)]
	if !ok {
		return nil, false
	}
	s := e.s
	if _, ended := c.ended[s.ID]; ended {
		s.EndedAt = now
		return &s, true
	}
	if now.Sub(e.fetched) > c.ttl {
		return nil, false
	}
	return &s, true
}

// put caches s (a store read) and returns a copy that honours a known end.
func (c *adminCache) put(s *AdminSession, now time.Time) *AdminSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byKey) > 4096 {
		for k, e := range c.byKey {
			if now.Sub(e.fetched) > c.ttl {
				delete(c.byKey, k)
			}
		}
	}
	cp := *s
	if at, ended := c.ended[s.ID]; ended && !cp.Ended() {
		cp.EndedAt = at
	}
	c.byKey[string(s.Hash)] = adminCached{s: cp, fetched: now}
	return &cp
}

// touch notes that the cached session was seen at now.
func (c *adminCache) touch(hash []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[string(hash)]; ok {
		e.s.LastSeenAt = now
		c.byKey[string(hash)] = e
	}
}

// markEnded records that session id ended, cached or not.
func (c *adminCache) markEnded(id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, at := range c.ended {
		if now.Sub(at) > c.keep {
			delete(c.ended, k)
		}
	}
	c.ended[id] = now
}

// dropAll forgets the cached sessions (ends stay known).
func (c *adminCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byKey)
}
