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
	if a.Email != "" {
		data["adminEmail"] = a.Email
	}
	raw, _ := json.Marshal(data)
	m.audit(ctx, &Event{Type: EventAdminAction, ActorType: a.Type, ActorID: a.ID, IP: a.IP, UserID: userID, SessionID: sessionID, Data: raw}, nil)
}
