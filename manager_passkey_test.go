package sessionmanager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/risk"
)

// scriptedCeremonies stands in for the WebAuthn cryptography (tested with
// a real browser in e2e) so these tests isolate the Manager's part: the
// ceremony's life in the store (single use, expiry on the Manager's clock,
// binding to its purpose and session) and what a verified passkey leads to.
// An answer is {"challenge","credentialId","userHandle"}.
type scriptedCeremonies struct {
	mu sync.Mutex
	n  int
}

type scriptedAnswer struct {
	Challenge    string `json:"challenge"`
	CredentialID string `json:"credentialId"`
	UserHandle   string `json:"userHandle"`
}

func (s *scriptedCeremonies) next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprint("challenge-", s.n)
}

func (s *scriptedCeremonies) BeginRegistration(u *sm.User, _ []*sm.Passkey) (json.RawMessage, string, []byte, error) {
	c := s.next()
	return json.RawMessage(`{"challenge":"` + c + `"}`), c, []byte("state for " + u.ID), nil
}

func (s *scriptedCeremonies) BeginLogin(*sm.User, []*sm.Passkey) (json.RawMessage, string, []byte, error) {
	c := s.next()
	return json.RawMessage(`{"challenge":"` + c + `"}`), c, []byte("login state"), nil
}

func (s *scriptedCeremonies) parse(response []byte) (*sm.PasskeyResponse, error) {
	var a scriptedAnswer
	if err := json.Unmarshal(response, &a); err != nil {
		return nil, &sm.Error{Code: sm.EINVALID, Reason: "passkey_malformed", Message: "malformed"}
	}
	return &sm.PasskeyResponse{Challenge: a.Challenge, CredentialID: []byte(a.CredentialID), UserHandle: []byte(a.UserHandle)}, nil
}

func (s *scriptedCeremonies) ParseRegistration(r []byte) (*sm.PasskeyResponse, error) {
	return s.parse(r)
}
func (s *scriptedCeremonies) ParseAssertion(r []byte) (*sm.PasskeyResponse, error) { return s.parse(r) }

func (s *scriptedCeremonies) FinishRegistration(u *sm.User, state []byte, r *sm.PasskeyResponse) (*sm.Passkey, error) {
	if string(state) != "state for "+u.ID {
		return nil, fmt.Errorf("state %q reached the wrong user", state)
	}
	return &sm.Passkey{CredentialID: r.CredentialID, PublicKey: []byte("cose"), SignCount: 1, Transports: []string{"internal"}}, nil
}

func (s *scriptedCeremonies) FinishLogin(_ *sm.User, passkeys []*sm.Passkey, _ []byte, r *sm.PasskeyResponse) (*sm.Passkey, error) {
	for _, p := range passkeys {
		if string(p.CredentialID) == string(r.CredentialID) {
			out := *p
			out.SignCount++
			return &out, nil
		}
	}
	return nil, &sm.Error{Code: sm.EINVALID, Reason: "passkey_unknown", Message: "unknown"}
}

func withPasskeys(c *sm.Config) { c.Passkeys = &scriptedCeremonies{} }

func challengeOf(t *testing.T, options json.RawMessage) string {
	t.Helper()
	var o struct{ Challenge string }
	if err := json.Unmarshal(options, &o); err != nil || o.Challenge == "" {
		t.Fatalf("options %s: %v", options, err)
	}
	return o.Challenge
}

func answer(challenge, credID, userHandle string) json.RawMessage {
	b, _ := json.Marshal(scriptedAnswer{challenge, credID, userHandle})
	return b
}

func wantReason(t *testing.T, what string, err error, code, reason string) {
	t.Helper()
	var e *sm.Error
	if sm.ErrorCode(err) != code || (reason != "" && (!asError(err, &e) || e.Reason != reason)) {
		t.Fatalf("%s: got %v, want %s %s", what, err, code, reason)
	}
}

func asError(err error, e **sm.Error) bool {
	v, ok := err.(*sm.Error)
	*e = v
	return ok
}

// enrolPasskey registers a passkey with credential id credID for res's session.
func enrolPasskey(t *testing.T, e *env, res *sm.LoginResult, credID string) *sm.Passkey {
	t.Helper()
	p := sm.Principal{UserID: res.User.ID, SessionID: res.Session.ID}
	opts, err := e.m.BeginPasskeyRegistration(e.ctx, p)
	if err != nil {
		t.Fatalf("begin registration: %v", err)
	}
	pk, _, err := e.m.FinishPasskeyRegistration(e.ctx, p, "key", answer(challengeOf(t, opts), credID, ""), sm.Actor{Type: sm.ActorUser, ID: res.User.ID})
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return pk
}

func TestPasskeyCeremonyLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice := e.register("alice")
		enrolled := enrolPasskey(t, e, alice, "cred-alice")

		// Expired: the options are dead PasskeyCeremonyTTL after they were
		// given (the Manager's clock), and nothing is opened.
		opts, err := e.m.PasskeyLoginOptions(e.ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(sm.PasskeyCeremonyTTL)
		_, err = e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", alice.User.ID), client)
		wantReason(t, "expired ceremony", err, sm.EINVALID, "passkey_ceremony_unknown")

		// With a passkey, a password session (acr 1) may no longer add or
		// remove one: step_up_required, asking for acr 2.
		p := sm.Principal{UserID: alice.User.ID, SessionID: alice.Session.ID}
		_, err = e.m.BeginPasskeyRegistration(e.ctx, p)
		wantReason(t, "password session of a user with a passkey", err, sm.EUNAUTHORIZED, sm.ReasonStepUpRequired)
		opts, _ = e.m.PasskeyLoginOptions(e.ctx, client)
		strong, err := e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", alice.User.ID), client)
		if err != nil || strong.Session.ACR != sm.ACRMultiFactor || strong.Claims.ACR != sm.ACRMultiFactor {
			t.Fatalf("passkey sign-in: %v %+v", err, strong)
		}
		if got := strong.Session.AMR; len(got) != 2 || got[0] != sm.AMRHardwareKey || got[1] != sm.AMRMFA {
			t.Fatalf("amr %v", got)
		}
		p = sm.Principal{UserID: alice.User.ID, SessionID: strong.Session.ID}

		// A registration's challenge does not sign anyone in, and is spent.
		reg, err := e.m.BeginPasskeyRegistration(e.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, reg), "cred-alice", alice.User.ID), client)
		wantReason(t, "a registration ceremony used to sign in", err, sm.EINVALID, "passkey_ceremony_unknown")
		_, _, err = e.m.FinishPasskeyRegistration(e.ctx, p, "", answer(challengeOf(t, reg), "cred-2", ""), sm.Actor{Type: sm.ActorUser})
		wantReason(t, "the spent registration ceremony", err, sm.EINVALID, "passkey_ceremony_unknown")

		// A passkey presented with another user's handle is refused.
		bob := e.register("bob")
		opts, _ = e.m.PasskeyLoginOptions(e.ctx, client)
		_, err = e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", bob.User.ID), client)
		wantReason(t, "alice's passkey with bob's user handle", err, sm.EINVALID, "passkey_unknown")

		// The good path opens a passkey session.
		opts, _ = e.m.PasskeyLoginOptions(e.ctx, client)
		res, err := e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", alice.User.ID), client)
		if err != nil || res.Session.AuthMethod != sm.AuthPasskey || res.User.ID != alice.User.ID {
			t.Fatalf("passkey sign-in: %v %+v", err, res)
		}

		// The strong session grows old: a change needs a new proof.
		e.clock.Advance(sm.FactorChangeMaxAge + 1)
		_, err = e.m.RemovePasskey(e.ctx, p, enrolled.ID, sm.Actor{Type: sm.ActorUser, ID: alice.User.ID})
		wantReason(t, "an old sign-in removes a passkey", err, sm.EUNAUTHORIZED, sm.ReasonStepUpRequired)
		if n, _ := e.store.CountPasskeys(e.ctx, alice.User.ID); n != 1 {
			t.Fatalf("a refused removal removed: %d left", n)
		}

		// A blocked user's passkey opens nothing.
		if _, err := e.m.SetBlocked(e.ctx, alice.User.ID, true); err != nil {
			t.Fatal(err)
		}
		opts, _ = e.m.PasskeyLoginOptions(e.ctx, client)
		_, err = e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", alice.User.ID), client)
		wantReason(t, "blocked user", err, sm.EFORBIDDEN, "")
		page, err := e.m.ListSessions(e.ctx, sm.SessionFilter{UserID: alice.User.ID, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Limit: 100})
		if err != nil || len(page.Sessions) != 0 {
			t.Fatalf("a blocked user has live sessions: %d %v", len(page.Sessions), err)
		}
	}, withPasskeys)
}

func TestPasskeysOffWithoutRelyingParty(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, err := e.m.PasskeyLoginOptions(e.ctx, client)
		wantReason(t, "no relying party", err, sm.ENOTFOUND, "passkeys_disabled")
	})
}

// TestPasskeyOptionsCappedPerAddress: each address may open a bounded
// number of sign-in ceremonies per failure window (each one is a row until
// it expires); another address is not affected.
func TestPasskeyOptionsCappedPerAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		var err error
		n := 0
		for ; n < 1000 && err == nil; n++ {
			_, err = e.m.PasskeyLoginOptions(e.ctx, client)
		}
		if sm.ErrorCode(err) != sm.ETOOMANY || n < 2 || n > 200 {
			t.Fatalf("after %d options: %v, want 429 within 200", n, err)
		}
		other := client
		other.IP = netip.MustParseAddr("198.51.100.7")
		if _, err := e.m.PasskeyLoginOptions(e.ctx, other); err != nil {
			t.Fatalf("another address: %v", err)
		}
	}, withPasskeys)
}

// TestPasskeyFactorAdmin: the registered webauthn factor also counts and
// resets a user's passkeys for the admin side (A4's FactorAdmin shape).
func TestPasskeyFactorAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice, bob := e.register("alice"), e.register("bob")
		enrolPasskey(t, e, alice, "cred-alice")
		enrolPasskey(t, e, bob, "cred-bob")
		admin, ok := e.m.Factor(sm.MethodWebAuthn).(interface {
			Method() string
			CountFactors(ctx context.Context, userID string) (int, error)
			ResetFactors(ctx context.Context, userID string) (int, error)
		})
		if !ok {
			t.Fatal("the webauthn factor has no admin side")
		}
		if n, err := admin.CountFactors(e.ctx, alice.User.ID); n != 1 || err != nil {
			t.Fatalf("count: %d %v", n, err)
		}
		if n, err := admin.ResetFactors(e.ctx, alice.User.ID); n != 1 || err != nil {
			t.Fatalf("reset: %d %v", n, err)
		}
		opts, _ := e.m.PasskeyLoginOptions(e.ctx, client)
		_, err := e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", alice.User.ID), client)
		wantReason(t, "a reset passkey", err, sm.EINVALID, "passkey_unknown")
		if n, _ := admin.CountFactors(e.ctx, bob.User.ID); n != 1 {
			t.Fatalf("bob's passkey went too: %d", n)
		}
	}, withPasskeys)
}

// TestPasskeyEnrolmentLicensed: enrolling is an Advanced feature (with the
// challenges, as TOTP); without it a passkey enrolled before still signs in
// and can still be removed.
func TestPasskeyEnrolmentLicensed(t *testing.T) {
	var locked atomic.Bool
	licence := func(c *sm.Config) {
		c.Allows = func(f string) bool { return f != sm.FeatureChallenge || !locked.Load() }
	}
	eachStore(t, func(t *testing.T, e *env) {
		locked.Store(false)
		alice := e.register("alice")
		enrolled := enrolPasskey(t, e, alice, "cred-alice")
		locked.Store(true)
		_, err := e.m.BeginPasskeyRegistration(e.ctx, sm.Principal{UserID: alice.User.ID, SessionID: alice.Session.ID})
		wantReason(t, "enrolment without the licence", err, sm.EFORBIDDEN, sm.ReasonFeatureLocked)
		opts, _ := e.m.PasskeyLoginOptions(e.ctx, client)
		res, err := e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-alice", alice.User.ID), client)
		if err != nil {
			t.Fatalf("an enrolled passkey without the licence: %v", err)
		}
		if _, err := e.m.RemovePasskey(e.ctx, sm.Principal{UserID: alice.User.ID, SessionID: res.Session.ID}, enrolled.ID, sm.Actor{Type: sm.ActorUser}); err != nil {
			t.Fatalf("removal without the licence: %v", err)
		}
	}, withPasskeys, licence)
}

// TestPasskeyChallengeFactor: the webauthn factor of a challenged login
// (new_device: challenge). Its options are bound to their challenge: the
// options of one challenge do not answer another of the same user; options
// asked from another client are refused; a user whose passkeys went since
// the challenge gets a clear 400, not a server error. A good proof opens
// the session with hwk and acr 2.
func TestPasskeyChallengeFactor(t *testing.T) {
	challengeNewDevices := func(c *sm.Config) { c.Risk = risk.New() }
	eachStore(t, func(t *testing.T, e *env) {
		if _, err := e.m.UpdateSettings(sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: "a"}), []byte(`{"actions":{"newDevice":"challenge"}}`)); err != nil {
			t.Fatal(err)
		}
		alice := e.register("alice")
		enrolled := enrolPasskey(t, e, alice, "cred-alice")
		phone := sm.ClientInfo{IP: client.IP, UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}
		challenged := func() string {
			t.Helper()
			_, err := e.m.Login(e.ctx, "alice", "a long enough password", phone)
			var se *sm.Error
			if !asError(err, &se) || se.Reason != sm.ReasonChallengeRequired || se.Challenge == nil || se.Challenge.Methods[0] != sm.MethodWebAuthn {
				t.Fatalf("login from a new device: %v", err)
			}
			return se.Challenge.ID
		}
		first, second := challenged(), challenged()

		_, err := e.m.PasskeyChallengeOptions(e.ctx, first, client)
		wantReason(t, "options from another client", err, sm.EFORBIDDEN, sm.ReasonChallengeMismatch)
		_, err = e.m.PasskeyChallengeOptions(e.ctx, "no-such-challenge", phone)
		wantReason(t, "options of an unknown challenge", err, sm.EINVALID, sm.ReasonChallengeUnknown)

		opts, err := e.m.PasskeyChallengeOptions(e.ctx, first, phone)
		if err != nil {
			t.Fatal(err)
		}
		proof := sm.Proof{Method: sm.MethodWebAuthn, Credential: answer(challengeOf(t, opts), "cred-alice", alice.User.ID), Client: phone}
		_, err = e.m.VerifyChallenge(e.ctx, second, proof)
		wantReason(t, "the first challenge's options answering the second", err, sm.EINVALID, "passkey_ceremony_unknown")

		opts, _ = e.m.PasskeyChallengeOptions(e.ctx, second, phone)
		proof.Credential = answer(challengeOf(t, opts), "cred-alice", alice.User.ID)
		res, err := e.m.VerifyChallenge(e.ctx, second, proof)
		if err != nil || res.Session.ACR != sm.ACRMultiFactor || !slices.Contains(res.Session.AMR, sm.AMRHardwareKey) {
			t.Fatalf("a good proof: %v %+v", err, res)
		}

		// The passkey goes; the first challenge can no longer be answered
		// with one, and says so.
		if err := e.store.DeletePasskey(e.ctx, alice.User.ID, enrolled.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.m.PasskeyChallengeOptions(e.ctx, first, phone)
		wantReason(t, "options when the passkey went", err, sm.EINVALID, sm.ReasonMethodNotOffered)
	}, withPasskeys, challengeNewDevices)
}
