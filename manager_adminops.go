package sessionmanager

import (
	"context"
	"strings"
	"time"
)

// The Manager's admin use cases (admincore.go). Every change audits itself
// here, naming the actor of ctx: this file is "how an admin action is
// audited" for the API and the dashboard alike.

// ListSessions returns one page of sessions.
func (m *Manager) ListSessions(ctx context.Context, f SessionFilter) (SessionPage, error) {
	return m.store.ListSessions(ctx, f)
}

// SessionCountLimit is where a session count stops: past it a list says
// "more than 10 000" rather than scan every session for an exact figure.
const SessionCountLimit = 10000

// SessionCount is the size of a filtered session list.
type SessionCount struct {
	N int `json:"n"`
	// More is true when there are more than N (N is SessionCountLimit).
	More bool `json:"more"`
}

// CountSessions counts the sessions the filter selects, all pages, up to
// SessionCountLimit.
func (m *Manager) CountSessions(ctx context.Context, f SessionFilter) (SessionCount, error) {
	n, err := m.store.CountSessions(ctx, f, SessionCountLimit)
	if err != nil {
		return SessionCount{}, err
	}
	if n > SessionCountLimit {
		return SessionCount{N: SessionCountLimit, More: true}, nil
	}
	return SessionCount{N: n}, nil
}

// TerminateSession ends a session (reason manual) and returns it.
func (m *Manager) TerminateSession(ctx context.Context, id string) (*Session, error) {
	if err := m.EndSession(ctx, id, EndManual, ActorFrom(ctx)); err != nil {
		return nil, err
	}
	return m.store.SessionByID(ctx, id)
}

// DeleteSession ends a session on every instance, then deletes its record.
func (m *Manager) DeleteSession(ctx context.Context, id string) error {
	if err := m.EndSession(ctx, id, EndManual, ActorFrom(ctx)); err != nil {
		return err
	}
	if err := m.store.DeleteSession(ctx, id); err != nil {
		return err
	}
	m.auditAdmin(ctx, "session.delete", "", id, nil)
	return nil
}

// CleanEndedSessions deletes every ended session now.
func (m *Manager) CleanEndedSessions(ctx context.Context) (int, error) {
	n, err := m.purgeEnded(ctx, m.clock.Now().Add(time.Microsecond))
	if err != nil {
		if n > 0 {
			m.auditAdmin(ctx, "sessions.clean", "", "", map[string]any{"deleted": n, "stopped": true})
		}
		return 0, err
	}
	m.auditAdmin(ctx, "sessions.clean", "", "", map[string]any{"deleted": n})
	return n, nil
}

// ListUsers returns one page of users.
func (m *Manager) ListUsers(ctx context.Context, f UserFilter) ([]*User, string, error) {
	return m.store.ListUsers(ctx, f)
}

// User returns a user or ENOTFOUND.
func (m *Manager) User(ctx context.Context, id string) (*User, error) {
	return m.store.UserByID(ctx, id)
}

// LoginHistory is the countries and device families the user signed in from.
func (m *Manager) LoginHistory(ctx context.Context, userID string) (LoginHistory, error) {
	return m.store.LoginHistory(ctx, userID)
}

// TerminateUserSessions ends every live session of an existing user.
func (m *Manager) TerminateUserSessions(ctx context.Context, userID string) (int, error) {
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return 0, err
	}
	n, err := m.EndUserSessions(ctx, userID, EndManual, ActorFrom(ctx), "")
	if err != nil {
		return 0, err
	}
	m.auditAdmin(ctx, "user.terminate_all", userID, "", map[string]any{"ended": n})
	return n, nil
}

// EraseUser ends the user's sessions (reason erased) on every instance,
// then has the store clear their personal data (email, username, IPs, user
// agents, locations, the personal fields of their events and of the events
// without a user id that name their email or username, magic links; the
// audit chain still verifies through the kept digests), and records a
// user.erased event without personal data.
func (m *Manager) EraseUser(ctx context.Context, userID string) (int, error) {
	st, ok := m.store.(PrivacyStore)
	if !ok {
		return 0, Errorf(EINTERNAL, "the store cannot erase personal data")
	}
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return 0, err
	}
	actor := ActorFrom(ctx)
	ended, err := m.EndUserSessions(ctx, userID, EndErased, actor, "")
	if err != nil {
		return 0, err
	}
	if err := st.EraseUser(ctx, userID, m.clock.Now()); err != nil {
		return 0, err
	}
	m.profiles.forget(userID) // an erased user's name leaves memory too
	e := &Event{Type: EventUserErased, ActorType: actor.Type, ActorID: actor.ID, IP: actor.IP, UserID: userID, Data: actorData(actor, "sessionsEnded", ended)}
	return ended, m.Record(ctx, e)
}

// ListEvents returns one page of the audit log.
//
// An actor with an @ is an admin's email: the events of that admin; a user
// with an @ is a user's email (or username): the events of that user.
func (m *Manager) ListEvents(ctx context.Context, f EventFilter) ([]*Event, string, error) {
	if strings.Contains(f.UserID, "@") {
		u, err := m.store.UserByIdentifier(ctx, f.UserID)
		if IsNotFound(err) {
			return []*Event{}, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		f.UserID = u.ID
	}
	if strings.Contains(f.ActorID, "@") {
		st, err := m.adminLookup()
		if err != nil {
			return nil, "", err
		}
		a, err := st.AdminByEmail(ctx, f.ActorID)
		if IsNotFound(err) {
			return []*Event{}, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		f.ActorID = a.ID
	}
	return m.store.ListEvents(ctx, f)
}

// RecordExport audits a finished export.
func (m *Manager) RecordExport(ctx context.Context, x Export) {
	if x.What == ExportUser {
		m.auditAdmin(ctx, "user.export", x.UserID, "", nil)
		return
	}
	m.auditAdmin(ctx, "export."+string(x.What), "", "", map[string]any{"format": x.Format, "rows": x.Rows})
}

// Stats computes the dashboard's aggregates now.
func (m *Manager) Stats(ctx context.Context) (*Stats, error) {
	st, ok := m.store.(StatsStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store computes no statistics")
	}
	return st.Stats(ctx, m.clock.Now())
}

// tokenStore is what the admin API tokens need of the store.
type tokenStore interface {
	CreateAdminToken(ctx context.Context, t *AdminToken) error
	AdminTokenByHash(ctx context.Context, hash []byte) (*AdminToken, error)
	TouchAdminToken(ctx context.Context, id string, at time.Time) error
	ListAdminTokens(ctx context.Context) ([]*AdminToken, error)
	RevokeAdminToken(ctx context.Context, id string, at time.Time) error
}

func (m *Manager) tokenStore() (tokenStore, error) {
	st, ok := m.store.(tokenStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no admin tokens")
	}
	return st, nil
}

// CheckAdminToken authorises an admin API token for scope and notes its
// use at most once a minute. A user's access token is never an admin token.
func (m *Manager) CheckAdminToken(ctx context.Context, token, scope string) (*AdminToken, error) {
	if !strings.HasPrefix(token, AdminTokenPrefix) || len(token) > 200 {
		return nil, &Error{Code: EUNAUTHORIZED, Message: "An admin API token is required", Reason: "admin_token_required"}
	}
	st, err := m.tokenStore()
	if err != nil {
		return nil, err
	}
	hash, now := m.cfg.Secrets.LookupHash(token), m.clock.Now()
	t, ok := m.adminTokens.get(hash, now)
	if !ok {
		t, err = st.AdminTokenByHash(ctx, hash)
		if IsNotFound(err) {
			return nil, &Error{Code: EUNAUTHORIZED, Message: "Invalid admin API token", Reason: "invalid_token"}
		} else if err != nil {
			return nil, err
		}
		m.adminTokens.put(t, now)
	}
	if !ScopeAllows(t.Scope, scope) {
		return nil, &Error{Code: EFORBIDDEN, Message: "This token's scope does not allow this action", Reason: "scope_" + scope + "_required"}
	}
	if now.Sub(t.LastUsedAt) > time.Minute {
		if st.TouchAdminToken(ctx, t.ID, now) == nil {
			m.adminTokens.used(hash, now)
		}
	}
	return t, nil
}

// ListAdminTokens lists every admin API token, revoked ones too.
func (m *Manager) ListAdminTokens(ctx context.Context) ([]*AdminToken, error) {
	st, err := m.tokenStore()
	if err != nil {
		return nil, err
	}
	return st.ListAdminTokens(ctx)
}

// CreateAdminToken creates an admin API token and returns it in clear.
func (m *Manager) CreateAdminToken(ctx context.Context, name, scope string) (string, *AdminToken, error) {
	st, ok := m.store.(AdminStore)
	if !ok {
		return "", nil, Errorf(EINTERNAL, "the store keeps no admin tokens")
	}
	plain, t, err := NewAdminToken(ctx, st, m.cfg.Secrets, name, scope, m.clock.Now())
	if err != nil {
		return "", nil, err
	}
	m.auditAdmin(ctx, "admin_token.create", "", "", map[string]any{"createdTokenId": t.ID, "name": t.Name, "scope": t.Scope})
	return plain, t, nil
}

// RevokeAdminToken revokes a token at once; ENOTFOUND when unknown.
func (m *Manager) RevokeAdminToken(ctx context.Context, id string) error {
	st, err := m.tokenStore()
	if err != nil {
		return err
	}
	now := m.clock.Now()
	if err := st.RevokeAdminToken(ctx, id, now); err != nil {
		return err
	}
	m.adminTokens.markRevoked(id, now)
	m.publish(ctx, Message{Kind: MsgAdminTokenRevoked, TokenID: id, At: now})
	m.auditAdmin(ctx, "admin_token.revoke", "", "", map[string]any{"revokedTokenId": id})
	return nil
}

// adminLookup finds admin accounts.
type adminLookup interface {
	AdminByEmail(ctx context.Context, email string) (*Admin, error)
	AdminByID(ctx context.Context, id string) (*Admin, error)
}

func (m *Manager) adminLookup() (adminLookup, error) {
	st, ok := m.store.(adminLookup)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no admin accounts")
	}
	return st, nil
}

// Admin returns the admin account or ENOTFOUND.
func (m *Manager) Admin(ctx context.Context, id string) (*Admin, error) {
	st, err := m.adminLookup()
	if err != nil {
		return nil, err
	}
	return st.AdminByID(ctx, id)
}
