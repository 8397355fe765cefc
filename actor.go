package sessionmanager

import (
	"context"
	"encoding/json"
)

type actorKey struct{}

// WithActor returns ctx carrying the actor of a request. The front ends
// set it once, where they authenticate the admin (API token or dashboard
// session); the core's admin actions read it to audit themselves.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom is the actor ctx carries; without one, the system.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: ActorSystem}
}

// auditAdmin records an admin action in the audit log: who (the actor in
// ctx, with the admin's email when known), what (action plus non-personal
// details) and on what (user, session). It is the one place admin actions
// are audited, for the dashboard and the API alike. The action is already
// done, so a failed write is retried in the background, then logged.
func (m *Manager) auditAdmin(ctx context.Context, action, userID, sessionID string, details map[string]any) {
	a := ActorFrom(ctx)
	data := make(map[string]any, len(details)+2)
	for k, v := range details {
		data[k] = v
	}
	data["action"] = action
	addActor(data, a)
	raw, _ := json.Marshal(data)
	m.audit(ctx, &Event{Type: EventAdminAction, ActorType: a.Type, ActorID: a.ID, IP: a.IP, UserID: userID, SessionID: sessionID, Data: raw}, nil)
}

// addActor names the admin in an event's data: the email of a dashboard
// admin ("adminEmail"), the id of an API token ("tokenId").
func addActor(data map[string]any, a Actor) {
	if a.Email != "" {
		data["adminEmail"] = a.Email
	}
	if a.TokenID != "" {
		data["tokenId"] = a.TokenID
	}
}

// actorData is an event's data object of key-value pairs kv, naming the
// admin acting (addActor); nil when there is nothing to say.
func actorData(a Actor, kv ...any) json.RawMessage {
	data := make(map[string]any, len(kv)/2+2)
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i].(string)] = kv[i+1]
	}
	addActor(data, a)
	if len(data) == 0 {
		return nil
	}
	raw, _ := json.Marshal(data)
	return raw
}
