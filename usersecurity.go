package sessionmanager

import (
	"context"
	"sort"
)

// FactorAdmin is what a factor store (TOTP, passkeys...) lets an admin see
// and reset of a user's factors. A registered Factor that implements it
// (webauthn, totp, recovery_code do) is an admin side of its own; others
// come in Config.FactorAdmins. The core never imports them.
type FactorAdmin interface {
	// Method is the factor's method name: "totp", "webauthn"...
	Method() string
	// CountFactors is how many factors of this kind the user has enrolled
	// (TOTP secrets, passkeys; recovery codes count with TOTP's own).
	CountFactors(ctx context.Context, userID string) (int, error)
	// ResetFactors deletes every factor of this kind of the user and
	// returns how many went.
	ResetFactors(ctx context.Context, userID string) (int, error)
}

// FactorSummary is one kind of factor a user has, as an admin sees it
// (never a secret).
type FactorSummary struct {
	Method string `json:"method"`
	Count  int    `json:"count"`
}

// UserSecurity is what an admin sees and resets of a user's proofs: the
// factors, the trusted devices and the challenge history. Both front ends
// call it (AdminCore.Security); each change audits itself with the actor of
// ctx.
type UserSecurity interface {
	// Factors lists the user's factors by kind (those with none are left out).
	Factors(ctx context.Context, userID string) ([]FactorSummary, error)
	// ResetFactors deletes every factor of the user (audited reset_factors)
	// and returns how many went.
	ResetFactors(ctx context.Context, userID string) (int, error)
	// UserTrustedDevices lists the user's live trusted devices.
	UserTrustedDevices(ctx context.Context, userID string) ([]*TrustedDevice, error)
	// ForgetTrustedDevices deletes every trusted device of the user
	// (audited forget_trusted_devices) and returns how many went.
	ForgetTrustedDevices(ctx context.Context, userID string) (int, error)
	// ChallengeHistory is the user's newest challenge, report and
	// trusted-device events.
	ChallengeHistory(ctx context.Context, userID string, limit int) ([]*Event, error)
}

var _ UserSecurity = (*Manager)(nil)

// ChallengeHistoryTypes are the event types of a user's challenge history.
var ChallengeHistoryTypes = []string{EventLoginChallenged, EventChallengePassed, EventChallengeFailed,
	EventSessionReported, EventTrustedDeviceAdded, EventTrustedDeviceRevoked}

// Factors lists the user's factors by kind, sorted by method.
func (m *Manager) Factors(ctx context.Context, userID string) ([]FactorSummary, error) {
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	out := []FactorSummary{}
	for _, f := range m.factorAdmins() {
		n, err := f.CountFactors(ctx, userID)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, FactorSummary{Method: f.Method(), Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	return out, nil
}

// ResetFactors deletes every factor of the user, kind by kind, and audits
// what went (admin.action reset_factors, the actor of ctx). A kind that
// fails stops the reset; what was deleted before it is still audited.
func (m *Manager) ResetFactors(ctx context.Context, userID string) (int, error) {
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return 0, err
	}
	total, byMethod := 0, map[string]any{}
	var failed error
	for _, f := range m.factorAdmins() {
		n, err := f.ResetFactors(ctx, userID)
		total += n
		if n > 0 {
			byMethod[f.Method()] = n
		}
		if err != nil {
			failed = err
			break
		}
	}
	m.auditAdmin(ctx, "reset_factors", userID, "", map[string]any{"count": total, "methods": byMethod})
	return total, failed
}

// factorAdmins are Config.FactorAdmins and the registered factors with an
// admin side, one per method. Recovery codes come before TOTP, whose reset
// takes them with it, so the audit counts them.
func (m *Manager) factorAdmins() []FactorAdmin {
	var out []FactorAdmin
	seen := map[string]bool{}
	add := func(f any) {
		if a, ok := f.(FactorAdmin); ok && !seen[a.Method()] {
			seen[a.Method()] = true
			out = append(out, a)
		}
	}
	for _, f := range m.cfg.FactorAdmins {
		add(f)
	}
	if f := m.factors.get(MethodRecoveryCode); f != nil {
		add(f)
	}
	for _, f := range m.factors.ordered() {
		add(f)
	}
	return out
}

// UserTrustedDevices lists the user's live trusted devices for an admin.
func (m *Manager) UserTrustedDevices(ctx context.Context, userID string) ([]*TrustedDevice, error) {
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	return m.ListTrustedDevices(ctx, userID)
}

// ChallengeHistory is the user's newest challenge-related events.
func (m *Manager) ChallengeHistory(ctx context.Context, userID string, limit int) ([]*Event, error) {
	if limit <= 0 || limit > 100 {
		limit = 30
	}
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	events, _, err := m.store.ListEvents(ctx, EventFilter{UserID: userID, Types: ChallengeHistoryTypes, Desc: true, Limit: limit})
	if events == nil && err == nil {
		events = []*Event{}
	}
	return events, err
}
