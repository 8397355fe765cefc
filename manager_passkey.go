package sessionmanager

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Passkey limits.
const (
	// PasskeyCeremonyTTL is how long the options of a passkey ceremony may
	// be answered.
	PasskeyCeremonyTTL = 5 * time.Minute
	// MaxPasskeysPerUser caps a user's passkeys.
	MaxPasskeysPerUser = 20
	// passkeyOptionsPerIP caps the sign-in ceremonies one address may open
	// per failure window (each one is a row until it expires).
	passkeyOptionsPerIP = 60
)

// AuthPasskey is a passwordless sign-in with a passkey.
const AuthPasskey AuthMethod = "passkey"

// passkeysOff is the answer while the server has no relying party.
func passkeysOff() *Error {
	return &Error{Code: ENOTFOUND, Message: "Passkeys are not enabled on this server", Reason: "passkeys_disabled"}
}

// ceremonyGone is the one answer for an unknown, spent, expired or
// foreign ceremony: which one it was is nobody's business.
func ceremonyGone() *Error {
	return &Error{Code: EINVALID, Message: "This passkey request has expired or was already used; start again", Reason: "passkey_ceremony_unknown"}
}

// passkeySetup returns the store and the ceremonies, or passkeysOff.
func (m *Manager) passkeySetup() (PasskeyStore, PasskeyCeremonies, error) {
	st, ok := m.store.(PasskeyStore)
	if !ok || m.cfg.Passkeys == nil {
		return nil, nil, passkeysOff()
	}
	return st, m.cfg.Passkeys, nil
}

// PasskeysEnabled reports whether passkeys can be used on this server.
func (m *Manager) PasskeysEnabled() bool {
	_, _, err := m.passkeySetup()
	return err == nil
}

// ceremonyRef binds a ceremony to what began it.
type ceremonyRef struct {
	purpose, userID, sessionID, challengeID string
}

// ceremonyHash is the store key of a ceremony: the keyed hash of its
// challenge, so the browser's answer (which carries the challenge it
// signed) finds its ceremony on any instance.
func (m *Manager) ceremonyHash(challenge string) []byte {
	return m.cfg.Secrets.LookupHash("passkey-ceremony:" + challenge)
}

// saveCeremony keeps a ceremony's state, sealed and bound to its hash.
func (m *Manager) saveCeremony(ctx context.Context, st PasskeyStore, ref ceremonyRef, challenge string, state []byte) error {
	hash := m.ceremonyHash(challenge)
	sealed, err := m.cfg.Secrets.Seal(state, hash)
	if err != nil {
		return err
	}
	now := m.clock.Now()
	return st.CreatePasskeyCeremony(ctx, &PasskeyCeremony{Hash: hash, Purpose: ref.purpose, UserID: ref.userID, SessionID: ref.sessionID,
		ChallengeID: ref.challengeID, State: sealed, CreatedAt: now, ExpiresAt: now.Add(PasskeyCeremonyTTL)})
}

// takeCeremony consumes the ceremony of challenge (single use, whatever
// comes next) and returns its state if it was begun for want.
func (m *Manager) takeCeremony(ctx context.Context, st PasskeyStore, challenge string, want ceremonyRef) ([]byte, error) {
	if challenge == "" {
		return nil, ceremonyGone()
	}
	c, err := st.ConsumePasskeyCeremony(ctx, m.ceremonyHash(challenge), m.clock.Now())
	if IsNotFound(err) {
		return nil, ceremonyGone()
	} else if err != nil {
		return nil, err
	}
	same := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if c.Purpose != want.purpose || !same(c.UserID, want.userID) || !same(c.SessionID, want.sessionID) || !same(c.ChallengeID, want.challengeID) {
		return nil, ceremonyGone()
	}
	state, err := m.cfg.Secrets.Open(c.State, c.Hash)
	if err != nil {
		return nil, ceremonyGone()
	}
	return state, nil
}

// passkeyName checks a passkey's name: at most 64 characters, no control
// characters; empty becomes "Passkey".
func passkeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if p := textProblem(name); p != "" {
		return "", InvalidFields(map[string]string{"name": p})
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", InvalidFields(map[string]string{"name": "must not contain control characters"})
	}
	if utf8.RuneCountInString(name) > 64 {
		return "", InvalidFields(map[string]string{"name": "must be at most 64 characters"})
	}
	if name == "" {
		name = "Passkey"
	}
	return name, nil
}

// BeginPasskeyRegistration starts enrolling a passkey for the signed-in
// user: the PublicKeyCredentialCreationOptions for the browser. It needs a
// recent strong sign-in of the session (step_up_required otherwise) and
// the challenge feature (Advanced edition).
func (m *Manager) BeginPasskeyRegistration(ctx context.Context, p Principal) (json.RawMessage, error) {
	st, cer, err := m.passkeySetup()
	if err != nil {
		return nil, err
	}
	// Enrolling is licensed with the challenges (Advanced), as TOTP is; a
	// user keeps the right to list, use and remove what was enrolled.
	if err := m.RequireFeature(FeatureChallenge, "Passkeys"); err != nil {
		return nil, err
	}
	if err := m.requireFactorChange(ctx, p); err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if u.Blocked {
		return nil, blockedUser()
	}
	existing, err := st.PasskeysByUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxPasskeysPerUser {
		return nil, &Error{Code: EINVALID, Message: "You have too many passkeys; remove one first", Reason: "too_many_passkeys"}
	}
	opts, challenge, state, err := cer.BeginRegistration(u, existing)
	if err != nil {
		return nil, err
	}
	if err := m.saveCeremony(ctx, st, ceremonyRef{purpose: CeremonyRegister, userID: u.ID, sessionID: p.SessionID}, challenge, state); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishPasskeyRegistration verifies the browser's attestation for a
// ceremony this session began, stores the passkey and ends the user's
// other sessions (a new way in for the account: sessions opened by
// someone else do not survive it). It returns the passkey and how many
// sessions ended.
func (m *Manager) FinishPasskeyRegistration(ctx context.Context, p Principal, name string, response json.RawMessage, actor Actor) (*Passkey, int, error) {
	st, cer, err := m.passkeySetup()
	if err != nil {
		return nil, 0, err
	}
	if name, err = passkeyName(name); err != nil {
		return nil, 0, err
	}
	if len(response) == 0 {
		return nil, 0, InvalidFields(map[string]string{"credential": "is required"})
	}
	resp, err := cer.ParseRegistration(response)
	if err != nil {
		return nil, 0, err
	}
	state, err := m.takeCeremony(ctx, st, resp.Challenge, ceremonyRef{purpose: CeremonyRegister, userID: p.UserID, sessionID: p.SessionID})
	if err != nil {
		return nil, 0, err
	}
	if err := m.requireFactorChange(ctx, p); err != nil {
		return nil, 0, err
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, 0, err
	}
	pk, err := cer.FinishRegistration(u, state, resp)
	if err != nil {
		return nil, 0, err
	}
	now := m.clock.Now()
	pk.ID, pk.UserID, pk.Name, pk.CreatedAt = newID(), u.ID, name, now
	if err := st.CreatePasskey(ctx, pk); err != nil {
		return nil, 0, err
	}
	m.audit(ctx, &Event{Type: EventFactorAdded, ActorType: actor.Type, ActorID: actor.ID, UserID: u.ID, SessionID: p.SessionID, IP: actor.IP,
		Data: jsonObject("method", MethodWebAuthn, "passkeyId", pk.ID, "backupEligible", pk.BackupEligible, "attachment", pk.Attachment)}, nil)
	ended, err := m.EndUserSessions(ctx, u.ID, EndFactorChanged, actor, p.SessionID)
	if err != nil {
		return pk, 0, err
	}
	return pk, ended, nil
}

// Passkeys lists a user's passkeys, oldest first.
func (m *Manager) Passkeys(ctx context.Context, userID string) ([]*Passkey, error) {
	st, _, err := m.passkeySetup()
	if err != nil {
		return nil, err
	}
	return st.PasskeysByUser(ctx, userID)
}

// RenamePasskey renames one of the signed-in user's passkeys (another
// user's is not found).
func (m *Manager) RenamePasskey(ctx context.Context, p Principal, id, name string) error {
	st, _, err := m.passkeySetup()
	if err != nil {
		return err
	}
	if name, err = passkeyName(name); err != nil {
		return err
	}
	return st.RenamePasskey(ctx, p.UserID, id, name)
}

// RemovePasskey deletes one of the signed-in user's passkeys; like an
// enrolment it needs a recent strong sign-in and ends the user's other
// sessions. It returns how many ended.
func (m *Manager) RemovePasskey(ctx context.Context, p Principal, id string, actor Actor) (int, error) {
	st, _, err := m.passkeySetup()
	if err != nil {
		return 0, err
	}
	if err := m.requireFactorChange(ctx, p); err != nil {
		return 0, err
	}
	if err := st.DeletePasskey(ctx, p.UserID, id); err != nil {
		return 0, err
	}
	m.audit(ctx, &Event{Type: EventFactorRemoved, ActorType: actor.Type, ActorID: actor.ID, UserID: p.UserID, SessionID: p.SessionID, IP: actor.IP,
		Data: jsonObject("method", MethodWebAuthn, "passkeyId", id)}, nil)
	return m.EndUserSessions(ctx, p.UserID, EndFactorChanged, actor, p.SessionID)
}

// PasskeyLoginOptions opens a passwordless sign-in: request options for
// any discoverable passkey of this site. Each address may open
// passkeyOptionsPerIP per failure window.
func (m *Manager) PasskeyLoginOptions(ctx context.Context, client ClientInfo) (json.RawMessage, error) {
	st, cer, err := m.passkeySetup()
	if err != nil {
		return nil, err
	}
	window := m.failWindow(ctx)
	if n, err := m.fails.Incr(ctx, "passkey-options:"+failKeyIP(client.IP), window); err != nil {
		return nil, err
	} else if n > passkeyOptionsPerIP {
		return nil, tooManyAttempts(window)
	}
	opts, challenge, state, err := cer.BeginLogin(nil, nil)
	if err != nil {
		return nil, err
	}
	if err := m.saveCeremony(ctx, st, ceremonyRef{purpose: CeremonyLogin}, challenge, state); err != nil {
		return nil, err
	}
	return opts, nil
}

// PasskeyLogin finishes a passwordless sign-in: the assertion answers a
// ceremony of PasskeyLoginOptions (single use), its passkey is found by
// credential id and must belong to the user handle it returned, the
// signature and counter are checked, then the login runs the same pipeline
// as a password login (risk, policy, alerts). A verified passkey is a
// strong proof on its own: the session's acr is "2" and no challenge is
// asked. Attempts count against the address like password attempts.
func (m *Manager) PasskeyLogin(ctx context.Context, response json.RawMessage, client ClientInfo) (*LoginResult, error) {
	st, cer, err := m.passkeySetup()
	if err != nil {
		return nil, err
	}
	if len(response) == 0 {
		return nil, InvalidFields(map[string]string{"credential": "is required"})
	}
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, "", failKeyIP(client.IP))
	if err != nil {
		return nil, err
	}
	resp, err := cer.ParseAssertion(response)
	if err != nil {
		return nil, err
	}
	state, err := m.takeCeremony(ctx, st, resp.Challenge, ceremonyRef{purpose: CeremonyLogin})
	if err != nil {
		return nil, m.passkeyLoginFailed(ctx, nil, client, err)
	}
	pk, err := st.PasskeyByCredentialID(ctx, resp.CredentialID)
	if IsNotFound(err) {
		return nil, m.passkeyLoginFailed(ctx, nil, client, &Error{Code: EINVALID, Message: "This passkey is not registered", Reason: "passkey_unknown"})
	} else if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(resp.UserHandle, []byte(pk.UserID)) != 1 {
		return nil, m.passkeyLoginFailed(ctx, nil, client, &Error{Code: EINVALID, Message: "This passkey is not registered", Reason: "passkey_unknown"})
	}
	u, err := m.store.UserByID(ctx, pk.UserID)
	if err != nil {
		return nil, err
	}
	used, err := cer.FinishLogin(u, []*Passkey{pk}, state, resp)
	if err != nil {
		return nil, m.passkeyLoginFailed(ctx, u, client, err)
	}
	if err := m.recordPasskeyUse(ctx, st, used); err != nil {
		if ErrorCode(err) == EINVALID {
			return nil, m.passkeyLoginFailed(ctx, u, client, err)
		}
		return nil, err
	}
	if u.Blocked {
		return nil, blockedUser()
	}
	try.succeeded(ctx)
	return m.startPasskeySession(ctx, u, used, client)
}

// recordPasskeyUse stores a verified assertion's counter; one that did not
// advance (a cloned key, a replay) is the client's EINVALID passkey_counter.
func (m *Manager) recordPasskeyUse(ctx context.Context, st PasskeyStore, used *Passkey) error {
	err := st.RecordPasskeyUse(ctx, used.ID, used.SignCount, used.BackupState, m.clock.Now())
	if ErrorCode(err) == ECONFLICT {
		return &Error{Code: EINVALID, Message: "The passkey's signature counter did not advance (a cloned key?)", Reason: "passkey_counter", Cause: err}
	}
	return err
}

// passkeyLoginFailed records a refused passkey sign-in and returns why.
func (m *Manager) passkeyLoginFailed(ctx context.Context, u *User, client ClientInfo, why error) error {
	e := &Event{Type: EventLoginFailed, ActorType: ActorUser, IP: ipText(client.IP), UserAgent: cleanText(client.UserAgent, 1024),
		Data: jsonObject("reason", ErrorReason(why), "method", AuthPasskey)}
	if u != nil {
		e.UserID, e.ActorID = u.ID, u.ID
	}
	m.audit(ctx, e, nil)
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.Login(AuthPasskey, "failed")
	}
	return why
}

// startPasskeySession runs the login pipeline for a user whose passkey was
// verified. A passkey is the strong proof a challenge would ask for, so a
// policy verdict of challenge is satisfied here and the session opens with
// the passkey's amr and acr 2 (a block still blocks: checkLogin refuses it).
func (m *Manager) startPasskeySession(ctx context.Context, u *User, pk *Passkey, client ClientInfo) (*LoginResult, error) {
	c, err := m.checkLogin(ctx, u, AuthPasskey, client, false)
	if err != nil {
		return nil, err
	}
	c.proof = []string{pk.AMR()}
	return m.openSession(ctx, u, AuthPasskey, c)
}
