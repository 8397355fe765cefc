package sessionmanager

import (
	"context"
	"time"
)

// A reported session's owner may have used it to add a way back in: a
// passkey (acr 1 suffices on a password-only account), TOTP and recovery
// codes, a trusted device. ReportSession removes every one of them added
// at or after that session's login; the user's older factors stay. Each
// removal is audited with the reported session and reason
// "session_reported".

// reasonSessionReported is the data.reason of what a report removed.
const reasonSessionReported = "session_reported"

// removeFactorsSince deletes u's passkeys, TOTP (with its recovery codes),
// recovery codes and trusted devices added at or after since, audits each
// kind, and returns how many of each went (by method; trusted devices as
// "trusted_device").
func (m *Manager) removeFactorsSince(ctx context.Context, u *User, s *Session, since time.Time, actor Actor) (map[string]int, error) {
	removed := map[string]int{}
	note := func(event, method string, n int) {
		if n == 0 {
			return
		}
		removed[method] += n
		m.audit(ctx, &Event{Type: event, ActorType: actor.Type, ActorID: actor.ID, UserID: u.ID, SessionID: s.ID, IP: actor.IP,
			Data: jsonObject("method", method, "count", n, "reason", reasonSessionReported)}, nil)
	}
	if st, ok := m.store.(PasskeyStore); ok {
		passkeys, err := st.PasskeysByUser(ctx, u.ID)
		if err != nil {
			return removed, err
		}
		n := 0
		for _, pk := range passkeys {
			if pk.CreatedAt.Before(since) {
				continue
			}
			if err := st.DeletePasskey(ctx, u.ID, pk.ID); err != nil && !IsNotFound(err) {
				note(EventFactorRemoved, MethodWebAuthn, n)
				return removed, err
			}
			n++
		}
		note(EventFactorRemoved, MethodWebAuthn, n)
	}
	if st, ok := m.store.(TOTPStore); ok {
		t, err := st.UserTOTP(ctx, u.ID)
		if err != nil && !IsNotFound(err) {
			return removed, err
		}
		// A secret confirmed since (a new one, or one that replaced the
		// owner's) goes with every recovery code, as does a pending one
		// when there is no active secret (the owner's active one stays).
		confirmedSince := t.Active() && !t.ConfirmedAt.Before(since)
		pendingSince := t != nil && !t.Active() && len(t.PendingSealed) > 0 && !t.PendingAt.Before(since)
		if confirmedSince || pendingSince {
			if err := m.deleteTOTP(ctx, u.ID); err != nil && !IsNotFound(err) {
				return removed, err
			}
			if confirmedSince {
				note(EventFactorRemoved, MethodTOTP, 1)
			}
		} else if t.Active() {
			// The owner's TOTP stays; recovery codes regenerated since are
			// known to whoever regenerated them.
			regenerated, _, err := m.store.ListEvents(ctx, EventFilter{UserID: u.ID, Types: []string{EventRecoveryCodesRegenerated}, From: since, Limit: 1})
			if err != nil {
				return removed, err
			}
			if len(regenerated) > 0 {
				left, err := st.RecoveryCodesLeft(ctx, u.ID)
				if err != nil {
					return removed, err
				}
				if err := st.ReplaceRecoveryCodes(ctx, u.ID, nil, m.clock.Now()); err != nil {
					return removed, err
				}
				note(EventFactorRemoved, MethodRecoveryCode, left)
			}
		}
	}
	if st, ok := m.store.(TrustedDeviceStore); ok {
		devices, err := st.ListTrustedDevices(ctx, u.ID, m.clock.Now())
		if err != nil {
			return removed, err
		}
		n := 0
		for _, d := range devices {
			if d.CreatedAt.Before(since) {
				continue
			}
			k, err := st.DeleteTrustedDevices(ctx, u.ID, d.ID)
			if err != nil {
				note(EventTrustedDeviceRevoked, "trusted_device", n)
				return removed, err
			}
			n += k
		}
		note(EventTrustedDeviceRevoked, "trusted_device", n)
	}
	return removed, nil
}
