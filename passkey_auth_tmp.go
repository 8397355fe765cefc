package sessionmanager

import "context"

// TEMPORARY until a1-challenge lands (RecentAuth, AuthContext).
func (m *Manager) requireRecentAuth(ctx context.Context, p Principal) error { return nil }

func (m *Manager) startPasskeySession(ctx context.Context, u *User, pk *Passkey, client ClientInfo) (*LoginResult, error) {
	return m.StartSession(ctx, u, AuthPasskey, client)
}
