package sessionmanager

import (
	"context"
	"encoding/hex"
	"encoding/json"
)

// passkeyFactor answers login challenges with a passkey (method webauthn):
// PasskeyChallengeOptions (POST /api/auth/challenge/options) hands out the
// request options for the challenged user's passkeys, VerifyChallenge
// (POST /api/auth/challenge/verify) checks the assertion here. The Manager
// registers it when Config.Passkeys is set. CountFactors and ResetFactors
// are the admin's side (the factor-admin use case of the admin API and
// the dashboard).
type passkeyFactor struct{ m *Manager }

func (passkeyFactor) Method() string { return MethodWebAuthn }

// Offered: the user has a passkey.
func (f passkeyFactor) Offered(ctx context.Context, u *User) (bool, error) {
	st, _, err := f.m.passkeySetup()
	if err != nil {
		return false, nil
	}
	n, err := st.CountPasskeys(ctx, u.ID)
	return n > 0, err
}

// Verify checks an assertion made for this challenge's options with one of
// its user's passkeys. Another user's passkey, options of another
// challenge, a spent or expired ceremony, a bad signature or a counter
// that did not advance are EINVALID (a wrong proof).
func (f passkeyFactor) Verify(ctx context.Context, ch *Challenge, p Proof) error {
	m := f.m
	st, cer, err := m.passkeySetup()
	if err != nil {
		return err
	}
	if len(p.Credential) == 0 {
		return InvalidFields(map[string]string{"credential": "is required for webauthn"})
	}
	resp, err := cer.ParseAssertion(p.Credential)
	if err != nil {
		return err
	}
	state, err := m.takeCeremony(ctx, st, resp.Challenge, challengeCeremony(ch))
	if err != nil {
		return err
	}
	u, err := m.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return err
	}
	passkeys, err := st.PasskeysByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	used, err := cer.FinishLogin(u, passkeys, state, resp)
	if err != nil {
		return err
	}
	return m.recordPasskeyUse(ctx, st, used)
}

// AMR: hwk for a passkey bound to one authenticator, swk for a synced one
// (the BE flag FinishLogin checked against the stored credential).
func (f passkeyFactor) AMR(_ *Challenge, p Proof) []string {
	_, cer, err := f.m.passkeySetup()
	if err != nil {
		return []string{AMRHardwareKey}
	}
	if resp, err := cer.ParseAssertion(p.Credential); err == nil && resp.BackupEligible {
		return []string{AMRSoftwareKey}
	}
	return []string{AMRHardwareKey}
}

// CountFactors counts the user's passkeys (the admin's view of factors).
func (f passkeyFactor) CountFactors(ctx context.Context, userID string) (int, error) {
	st, _, err := f.m.passkeySetup()
	if err != nil {
		return 0, nil
	}
	return st.CountPasskeys(ctx, userID)
}

// ResetFactors removes all of the user's passkeys (an admin's factor
// reset; the caller audits it) and says how many went.
func (f passkeyFactor) ResetFactors(ctx context.Context, userID string) (int, error) {
	st, _, err := f.m.passkeySetup()
	if err != nil {
		return 0, nil
	}
	return st.DeleteUserPasskeys(ctx, userID)
}

// challengeCeremony binds a ceremony to a login challenge: its user and its
// keyed hash (the challenge id itself is never stored).
func challengeCeremony(ch *Challenge) ceremonyRef {
	return ceremonyRef{purpose: CeremonyChallenge, userID: ch.UserID, challengeID: hex.EncodeToString(ch.Hash)}
}

// PasskeyChallengeOptions hands out the request options with which a
// challenged login (or a step-up challenge) is answered by one of the
// user's passkeys. The challenge is looked up as for the email code
// (PendingChallenge: open, offering webauthn, asked for by the challenged
// client, every lookup counted against the client's address). The options
// are single use: each verify needs new ones.
func (m *Manager) PasskeyChallengeOptions(ctx context.Context, challengeID string, client ClientInfo) (json.RawMessage, error) {
	st, cer, err := m.passkeySetup()
	if err != nil {
		return nil, err
	}
	ch, err := m.PendingChallenge(ctx, challengeID, MethodWebAuthn, client)
	if err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return nil, err
	}
	passkeys, err := st.PasskeysByUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(passkeys) == 0 { // removed since the challenge was issued
		return nil, &Error{Code: EINVALID, Message: "This account has no passkey any more; use another method", Reason: ReasonMethodNotOffered}
	}
	opts, challenge, state, err := cer.BeginLogin(u, passkeys)
	if err != nil {
		return nil, err
	}
	if err := m.saveCeremony(ctx, st, challengeCeremony(ch), challenge, state); err != nil {
		return nil, err
	}
	return opts, nil
}
