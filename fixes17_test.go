package sessionmanager_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Asking for a challenge's passkey options is no proof: it must not clear
// the account's count of wrong second-factor proofs, so wrong email codes
// across challenges are refused once MaxChallengeFailures is reached even
// when options are asked for between them (review of issue 17, finding 1).
func TestPasskeyOptionsKeepChallengeCap(t *testing.T) {
	mail := &codeMailer{}
	eachStore(t, func(t *testing.T, e *env) {
		if _, err := e.m.UpdateSettings(e.ctx, []byte(`{"actions":{"newDevice":"challenge"}}`)); err != nil {
			t.Fatal(err)
		}
		reg := e.register("cleo")
		if _, err := e.m.ConfirmEmail(e.ctx, reg.Confirmation.Token, client); err != nil {
			t.Fatal(err)
		}
		enrolPasskey(t, e, reg, "cred-cleo")
		firefox := sm.ClientInfo{IP: client.IP, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"}
		wrong := 0
		for round := 0; round < 12; round++ {
			_, err := e.m.Login(e.ctx, "cleo", "a long enough password", firefox)
			var ce *sm.Error
			if !errors.As(err, &ce) || ce.Challenge == nil {
				t.Fatalf("login: %v", err)
			}
			cid := ce.Challenge.ID
			for range sm.MaxChallengeAttempts - 1 {
				_, err := e.m.VerifyChallenge(e.ctx, cid, sm.Proof{Method: sm.MethodEmail, Code: "000000", Client: firefox})
				if sm.ErrorCode(err) == sm.ETOOMANY {
					if wrong != sm.MaxChallengeFailures {
						t.Fatalf("refused after %d wrong proofs, want %d", wrong, sm.MaxChallengeFailures)
					}
					return
				}
				if sm.ErrorCode(err) != sm.EINVALID {
					t.Fatalf("wrong proof %d: %v", wrong, err)
				}
				wrong++
			}
			if _, err := e.m.PasskeyChallengeOptions(e.ctx, cid, firefox); err != nil && sm.ErrorCode(err) != sm.ETOOMANY {
				t.Fatalf("options: %v", err)
			}
		}
		t.Fatalf("%d wrong second-factor proofs and no refusal (cap %d)", wrong, sm.MaxChallengeFailures)
	}, withChallenges(mail), withPasskeys, func(c *sm.Config) { c.Throttle = sm.NoThrottle })
}

// A code-only step-up (totp without a challenge) is a second-factor proof:
// a session gets MaxStepUpFailures wrong codes, and the account's wrong
// proofs of all its sessions stop at MaxChallengeFailures, whatever the
// password throttle says (review of issue 17, finding 2).
func TestStepUpCodeIsCapped(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p, actor, _, code := signedInWithTOTP(t, e, "dora")
		guess := 100000
		next := func() string {
			for {
				guess++
				if c := fmt.Sprintf("%06d", guess); c != code {
					return c
				}
			}
		}
		stepUp := func(p sm.Principal, c string) error {
			_, err := e.m.StepUp(e.ctx, p, "", sm.Proof{Method: sm.MethodTOTP, Code: c, Client: client}, actor)
			return err
		}
		// Per session: MaxStepUpFailures wrong codes, then even the right
		// one is refused on this session.
		for i := range sm.MaxStepUpFailures {
			if err := stepUp(p, next()); sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		if err := stepUp(p, code); sm.ErrorCode(err) != sm.ETOOMANY {
			t.Fatalf("step-up after %d wrong codes: %v, want 429", sm.MaxStepUpFailures, err)
		}
		// Per account: new sessions (a thief signing in again) share the
		// account's cap of wrong proofs.
		wrong := sm.MaxStepUpFailures
		for wrong < sm.MaxChallengeFailures+sm.MaxStepUpFailures {
			s := e.login("dora")
			ps := sm.Principal{UserID: s.User.ID, SessionID: s.Session.ID}
			for range sm.MaxStepUpFailures {
				err := stepUp(ps, next())
				if sm.ErrorCode(err) == sm.ETOOMANY {
					if wrong < sm.MaxChallengeFailures {
						t.Fatalf("account refused after %d wrong codes, want %d", wrong, sm.MaxChallengeFailures)
					}
					if err := stepUp(ps, code); sm.ErrorCode(err) != sm.ETOOMANY {
						t.Fatalf("right code past the account's cap: %v, want 429", err)
					}
					return
				}
				if sm.ErrorCode(err) != sm.EINVALID {
					t.Fatalf("wrong code %d: %v", wrong, err)
				}
				wrong++
			}
		}
		t.Fatalf("%d wrong step-up codes on one account without a refusal (cap %d)", wrong, sm.MaxChallengeFailures)
	}, func(c *sm.Config) { c.Throttle = sm.NoThrottle })
}

// signedInWithTOTP registers name, enrols TOTP on its session and returns
// the session, its actor, the secret and the code spent confirming it.
func signedInWithTOTP(t *testing.T, e *env, name string) (sm.Principal, sm.Actor, string, string) {
	t.Helper()
	reg := e.register(name)
	p := sm.Principal{UserID: reg.User.ID, SessionID: reg.Session.ID}
	actor := sm.Actor{Type: sm.ActorUser, ID: p.UserID}
	en, err := e.m.BeginTOTP(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := sm.TOTPCode(en.Secret, e.clock.Now())
	if _, err := e.m.ConfirmTOTP(e.ctx, p, code, actor); err != nil {
		t.Fatal(err)
	}
	return p, actor, en.Secret, code
}

// A right code clears the session's count: a user who mistyped can still
// step up.
func TestStepUpRightCodeAfterTypos(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p, actor, secret, _ := signedInWithTOTP(t, e, "ella")
		e.clock.Advance(30 * time.Second) // the enrolment's code is spent
		code, _ := sm.TOTPCode(secret, e.clock.Now())
		wrongCode := "000000"
		if code == wrongCode {
			wrongCode = "111111"
		}
		for range sm.MaxStepUpFailures - 1 {
			if _, err := e.m.StepUp(e.ctx, p, "", sm.Proof{Method: sm.MethodTOTP, Code: wrongCode, Client: client}, actor); sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("wrong code: %v", err)
			}
		}
		res, err := e.m.StepUp(e.ctx, p, "", sm.Proof{Method: sm.MethodTOTP, Code: code, Client: client}, actor)
		if err != nil {
			t.Fatalf("right code after %d typos: %v", sm.MaxStepUpFailures-1, err)
		}
		if res.Claims.ACR != sm.ACRMultiFactor {
			t.Fatalf("acr %q", res.Claims.ACR)
		}
	}, func(c *sm.Config) { c.Throttle = sm.NoThrottle })
}

// "This wasn't me" after a thief signed in with the password and added
// ways back in (TOTP, then a step-up with it, a passkey, a trusted
// device): the report removes what was added at or after the reported
// session's login, keeps the owner's older factors, and every sign-in
// but the reset is refused while the reset is pending (review of issue 17,
// finding 3).
func TestReportRemovesThiefFactors(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		owner := e.register("vic")
		ownerDevice, err := e.m.RememberDevice(e.ctx, owner.User, client, sm.Device{})
		if err != nil {
			t.Fatal(err)
		}
		t0 := e.clock.Now()
		e.clock.Advance(time.Hour)

		thief := e.login("vic")
		tp := sm.Principal{UserID: thief.User.ID, SessionID: thief.Session.ID}
		ta := sm.Actor{Type: sm.ActorUser, ID: tp.UserID}
		en, err := e.m.BeginTOTP(e.ctx, tp)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := sm.TOTPCode(en.Secret, e.clock.Now())
		if _, err := e.m.ConfirmTOTP(e.ctx, tp, code, ta); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(30 * time.Second)
		code, _ = sm.TOTPCode(en.Secret, e.clock.Now())
		if _, err := e.m.StepUp(e.ctx, tp, "", sm.Proof{Method: sm.MethodTOTP, Code: code, Client: client}, ta); err != nil {
			t.Fatalf("thief's step-up: %v", err)
		}
		enrolPasskey(t, e, thief, "cred-thief")
		if _, err := e.m.RememberDevice(e.ctx, thief.User, client, sm.Device{}); err != nil {
			t.Fatal(err)
		}
		// The owner's passkey, enrolled before the thief signed in.
		st := e.store.(sm.PasskeyStore)
		if err := st.CreatePasskey(e.ctx, &sm.Passkey{ID: "pk-owner", UserID: owner.User.ID, Name: "owner's key", CredentialID: []byte("cred-owner"),
			PublicKey: []byte("cose"), SignCount: 1, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}

		link := sm.ReportLinks{Secrets: e.secrets, BaseURL: "https://a"}.URL(thief.Session.ID, e.clock.Now())
		u, _ := url.Parse(link)
		rep, err := e.m.ReportSession(e.ctx, u.Query().Get("token"), true, client)
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		if rep.Removed[sm.MethodWebAuthn] != 1 || rep.Removed[sm.MethodTOTP] != 1 || rep.Removed["trusted_device"] != 1 {
			t.Fatalf("removed %v, want the thief's passkey, TOTP and trusted device", rep.Removed)
		}

		// What the thief added is gone; the owner's older factors stay.
		pks, err := st.PasskeysByUser(e.ctx, owner.User.ID)
		if err != nil || len(pks) != 1 || pks[0].ID != "pk-owner" {
			t.Fatalf("passkeys after the report: %+v %v, want only the owner's", pks, err)
		}
		if _, err := e.store.(sm.TOTPStore).UserTOTP(e.ctx, owner.User.ID); !sm.IsNotFound(err) {
			t.Fatalf("the thief's TOTP after the report: %v", err)
		}
		if n, err := e.store.(sm.TOTPStore).RecoveryCodesLeft(e.ctx, owner.User.ID); err != nil || n != 0 {
			t.Fatalf("the thief's recovery codes after the report: %d %v", n, err)
		}
		devices, err := e.m.ListTrustedDevices(e.ctx, owner.User.ID)
		if err != nil || len(devices) != 1 || devices[0].ID != ownerDevice.Device.ID {
			t.Fatalf("trusted devices after the report: %+v %v, want only the owner's", devices, err)
		}

		// Every sign-in but the reset is refused.
		_, err = e.m.Login(e.ctx, "vic", "a long enough password", client)
		wantReason(t, "password login", err, sm.EFORBIDDEN, sm.ReasonPasswordResetRequired)
		opts, err := e.m.PasskeyLoginOptions(e.ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-thief", thief.User.ID), client)
		wantReason(t, "the thief's passkey", err, sm.EINVALID, "passkey_unknown")
		opts, err = e.m.PasskeyLoginOptions(e.ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.m.PasskeyLogin(e.ctx, answer(challengeOf(t, opts), "cred-owner", owner.User.ID), client)
		wantReason(t, "the owner's passkey before the reset", err, sm.EFORBIDDEN, sm.ReasonPasswordResetRequired)
	}, withPasskeys)
}

// A live session of a reported account (the owner did not end all) cannot
// step up, nor enrol a factor, until the password is reset.
func TestReportRefusesStepUp(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		owner := e.register("wes")
		thief := e.login("wes")
		link := sm.ReportLinks{Secrets: e.secrets, BaseURL: "https://a"}.URL(thief.Session.ID, e.clock.Now())
		u, _ := url.Parse(link)
		if _, err := e.m.ReportSession(e.ctx, u.Query().Get("token"), false, client); err != nil {
			t.Fatalf("report: %v", err)
		}
		p := sm.Principal{UserID: owner.User.ID, SessionID: owner.Session.ID}
		_, err := e.m.BeginStepUp(e.ctx, p, client)
		wantReason(t, "begin step-up", err, sm.EFORBIDDEN, sm.ReasonPasswordResetRequired)
		_, err = e.m.StepUp(e.ctx, p, "", sm.Proof{Method: sm.MethodTOTP, Code: "123456", Client: client}, sm.Actor{Type: sm.ActorUser, ID: p.UserID})
		wantReason(t, "step-up", err, sm.EFORBIDDEN, sm.ReasonPasswordResetRequired)
		_, err = e.m.BeginTOTP(e.ctx, p)
		wantReason(t, "enrol TOTP", err, sm.EFORBIDDEN, sm.ReasonPasswordResetRequired)
	})
}

// A report link has one spelling: the MAC's last base64 character carries
// two spare bits, and another spelling of the same bytes would be a second,
// unspent token for the same report (the spent record is keyed on the text).
func TestReportLinkOneSpelling(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("xena")
		thief := e.login("xena")
		link := sm.ReportLinks{Secrets: e.secrets, BaseURL: "https://a"}.URL(thief.Session.ID, e.clock.Now())
		u, _ := url.Parse(link)
		token := u.Query().Get("token")
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, token[len(token)-1])
		other := token[:len(token)-1] + string(alphabet[last^1])
		if _, err := e.m.CheckSessionReport(e.ctx, other); sm.ErrorCode(err) != sm.EINVALID && sm.ErrorCode(err) != sm.ENOTFOUND {
			t.Fatalf("another spelling of the link's MAC: %v, want it refused", err)
		}
		if _, err := e.m.CheckSessionReport(e.ctx, token); err != nil {
			t.Fatalf("the link itself: %v", err)
		}
	})
}

// TestStepUpNeedsLiveOwnSession: step-up reads its session through
// liveSession, as every authenticated use does. A session past its
// absolute expiry that nothing ended yet is ended (reason expired) and
// refused; another user's session is refused and left as it was.
func TestStepUpNeedsLiveOwnSession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p, actor, secret, _ := signedInWithTOTP(t, e, "dora")
		stepUp := func(p sm.Principal, actor sm.Actor) error {
			code, _ := sm.TOTPCode(secret, e.clock.Now())
			_, err := e.m.StepUp(e.ctx, p, "", sm.Proof{Method: sm.MethodTOTP, Code: code, Client: client}, actor)
			return err
		}

		// Another user (with their own TOTP, right code) names dora's session.
		eve, eveActor, eveSecret, _ := signedInWithTOTP(t, e, "eve")
		e.clock.Advance(time.Minute)
		code, _ := sm.TOTPCode(eveSecret, e.clock.Now())
		_, err := e.m.StepUp(e.ctx, sm.Principal{UserID: eve.UserID, SessionID: p.SessionID}, "", sm.Proof{Method: sm.MethodTOTP, Code: code, Client: client}, eveActor)
		if sm.ErrorCode(err) != sm.EUNAUTHORIZED {
			t.Fatalf("step-up of another user's session: %v, want 401", err)
		}
		s, err := e.store.SessionByID(e.ctx, p.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == sm.StatusEnded || s.ACR == sm.ACRMultiFactor {
			t.Fatalf("another user's step-up touched the session: %s, acr %s", s.Status, s.ACR)
		}

		// Past its absolute expiry, never ended: ended as expired, refused.
		e.clock.Set(s.ExpiresAt.Add(time.Minute))
		if got := reasonOf(t, stepUp(p, actor)); got != string(sm.EndExpired) {
			t.Fatalf("step-up of an expired session: reason %q, want expired", got)
		}
		if s, err := e.store.SessionByID(e.ctx, p.SessionID); err != nil || s.Status != sm.StatusEnded || s.EndReason != sm.EndExpired {
			t.Fatalf("the expired session after a step-up: %+v %v, want ended (expired)", s, err)
		}
	}, func(c *sm.Config) { c.Throttle = sm.NoThrottle })
}
