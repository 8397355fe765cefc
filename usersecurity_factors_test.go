package sessionmanager_test

import (
	"testing"

	"github.com/pquerna/otp/totp"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestAdminSeesAndResetsEveryFactor: the admin's one path (UserSecurity,
// used by the admin API and the dashboard) sees a user's TOTP, recovery
// codes and passkeys, and its reset removes all three (another user's stay).
func TestAdminSeesAndResetsEveryFactor(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		alice, bob := e.register("alice"), e.register("bob")
		enrolPasskey(t, e, bob, "cred-bob")
		p := sm.Principal{UserID: alice.User.ID, SessionID: alice.Session.ID}
		actor := sm.Actor{Type: sm.ActorUser, ID: alice.User.ID}
		enrol, err := e.m.BeginTOTP(e.ctx, p)
		if err != nil {
			t.Fatalf("begin totp: %v", err)
		}
		code, err := totp.GenerateCode(enrol.Secret, e.clock.Now()) // an independent RFC 6238
		if err != nil {
			t.Fatal(err)
		}
		recovery, err := e.m.ConfirmTOTP(e.ctx, p, code, actor)
		if err != nil || len(recovery) != sm.RecoveryCodeCount {
			t.Fatalf("confirm totp: %v %d codes", err, len(recovery))
		}
		// With TOTP on, a passkey needs a multi-factor proof of the session.
		if _, err := e.m.BeginPasskeyRegistration(e.ctx, p); sm.ErrorReason(err) != "step_up_required" {
			t.Fatalf("a passkey on a password-only session of a TOTP user: %v", err)
		}
		if _, err := e.m.StepUp(e.ctx, p, "", sm.Proof{Method: sm.MethodRecoveryCode, Code: recovery[0]}, actor); err != nil {
			t.Fatalf("step up with a recovery code: %v", err)
		}
		enrolPasskey(t, e, alice, "cred-alice")

		got, err := e.m.Factors(e.ctx, alice.User.ID)
		want := []sm.FactorSummary{{Method: sm.MethodRecoveryCode, Count: 9}, {Method: sm.MethodTOTP, Count: 1}, {Method: sm.MethodWebAuthn, Count: 1}}
		if err != nil || len(got) != len(want) {
			t.Fatalf("factors: %v %+v", err, got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("factors: %+v, want %+v", got, want)
			}
		}
		if n, err := e.m.ResetFactors(e.ctx, alice.User.ID); n != 11 || err != nil {
			t.Fatalf("reset: %d %v, want 11 (9 codes, TOTP, a passkey)", n, err)
		}
		if got, err := e.m.Factors(e.ctx, alice.User.ID); err != nil || len(got) != 0 {
			t.Fatalf("factors after the reset: %+v %v", got, err)
		}
		mine, err := e.m.UserFactors(e.ctx, alice.User.ID)
		if err != nil || mine.TOTP || mine.Passkeys != 0 || mine.RecoveryCodesLeft != 0 {
			t.Fatalf("the user's own view after the reset: %+v %v", mine, err)
		}
		if got, _ := e.m.Factors(e.ctx, bob.User.ID); len(got) != 1 || got[0].Method != sm.MethodWebAuthn {
			t.Fatalf("bob's factors went too: %+v", got)
		}
	}, withPasskeys)
}
