package sessionmanager

import (
	"context"
	"strings"
)

// ExternalIdentity is a user established by another auth system.
type ExternalIdentity struct {
	// ExternalID is the user's id in that system (required, at most 200 bytes).
	ExternalID string
	Email      string
	Username   string
}

// StartExternalSession registers a session for a user of another auth
// system: the user is created on first sight (keyed by ExternalID), then
// the same login pipeline as a password login runs (device, geo, risk,
// firewall, alerts). A blocked login is EFORBIDDEN.
func (m *Manager) StartExternalSession(ctx context.Context, id ExternalIdentity, client ClientInfo) (*LoginResult, error) {
	id.ExternalID = strings.TrimSpace(id.ExternalID)
	if id.ExternalID == "" || len(id.ExternalID) > 200 {
		return nil, InvalidFields(map[string]string{"externalUserId": "is required (at most 200 characters)"})
	}
	u, err := m.externalUser(ctx, id, client)
	if err != nil {
		return nil, err
	}
	return m.StartSession(ctx, u, AuthExternal, client)
}

// externalUser finds the user of an external id or creates it. Two
// concurrent first sightings race on the unique external id: the loser
// reads the winner's user.
func (m *Manager) externalUser(ctx context.Context, id ExternalIdentity, client ClientInfo) (*User, error) {
	u, err := m.store.UserByExternalID(ctx, id.ExternalID)
	if err == nil || !IsNotFound(err) {
		return u, err
	}
	now := m.clock.Now()
	u = &User{ID: newID(), ExternalID: id.ExternalID, Email: strings.ToLower(strings.TrimSpace(id.Email)),
		Username: strings.TrimSpace(id.Username), Confirmed: true, CreatedAt: now, UpdatedAt: now}
	err = m.store.CreateUser(ctx, u)
	if ErrorCode(err) == ECONFLICT {
		if again, err2 := m.store.UserByExternalID(ctx, id.ExternalID); err2 == nil {
			return again, nil
		}
		return nil, &Error{Code: ECONFLICT, Message: "the email or username belongs to another account", Reason: "taken"}
	}
	if err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventUserRegistered, ActorType: ActorSystem, UserID: u.ID, IP: ipText(client.IP), UserAgent: client.UserAgent,
		Data: jsonObject("method", AuthExternal)}, nil)
	return u, nil
}
