package sessionmanager_test

import (
	"errors"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestChallengeFailuresSurviveThePassword: a thief who holds the password
// cannot reset the second factor's count by signing in again: the proofs
// of all an account's challenges are capped together
// (MaxChallengeFailures per failed-login window); only a passed challenge
// or the window's end clears them.
func TestChallengeFailuresSurviveThePassword(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			mail := &codeMailer{}
			e := newEnv(t, k, withChallenges(mail), func(c *sm.Config) { c.Throttle = sm.NoThrottle })
			if _, err := e.m.UpdateSettings(e.ctx, []byte(`{"actions":{"newDevice":"challenge"}}`)); err != nil {
				t.Fatal(err)
			}
			reg := e.register("cleo") // signs in with Chrome
			if _, err := e.m.ConfirmEmail(e.ctx, reg.Confirmation.Token, client); err != nil {
				t.Fatal(err)
			}
			firefox := sm.ClientInfo{IP: client.IP, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"}
			// Each challenge starts with a correct password, which clears the
			// password's own failure count.
			challenge := func() string {
				t.Helper()
				_, err := e.m.Login(e.ctx, "cleo", "a long enough password", firefox)
				var ce *sm.Error
				if !errors.As(err, &ce) || ce.Challenge == nil {
					t.Fatalf("new browser: %v, want a challenge", err)
				}
				return ce.Challenge.ID
			}
			proof := func(code string) sm.Proof { return sm.Proof{Method: sm.MethodEmail, Code: code, Client: firefox} }
			for range sm.MaxChallengeFailures / sm.MaxChallengeAttempts {
				cid := challenge()
				for range sm.MaxChallengeAttempts {
					if _, err := e.m.VerifyChallenge(e.ctx, cid, proof("123456")); sm.ErrorCode(err) != sm.EINVALID {
						t.Fatalf("wrong proof: %v", err)
					}
				}
			}
			// A fresh challenge with the right code: refused all the same.
			cid := challenge()
			if _, err := e.m.SendChallengeCode(e.ctx, cid, sm.MethodEmail, firefox); err != nil {
				t.Fatal(err)
			}
			good := mail.codes[len(mail.codes)-1]
			if _, err := e.m.VerifyChallenge(e.ctx, cid, proof(good)); sm.ErrorCode(err) != sm.ETOOMANY {
				t.Fatalf("past the account's cap: %v, want 429", err)
			}
			// After the window the owner gets through, and a pass clears the count.
			e.clock.Advance(15*time.Minute + time.Second)
			cid = challenge()
			if _, err := e.m.SendChallengeCode(e.ctx, cid, sm.MethodEmail, firefox); err != nil {
				t.Fatal(err)
			}
			res, err := e.m.VerifyChallenge(e.ctx, cid, proof(mail.codes[len(mail.codes)-1]))
			if err != nil || res.Session == nil || res.Session.ACR != sm.ACRMultiFactor {
				t.Fatalf("after the window: %v", err)
			}
		})
	}
}
