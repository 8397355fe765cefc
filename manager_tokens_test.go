package sessionmanager_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestChangePasswordRacingProofFails: the attacker who pre-registered the
// victim's email changes the password; the change has checked the current
// password when the victim proves the email by magic link (voiding it).
// The change's write, computed before, must not land: it fails with the
// password_changed conflict and the account keeps no password.
func TestChangePasswordRacingProofFails(t *testing.T) {
	const attackerPass = "a long enough password"
	gate := &gatedHasher{PasswordHasher: cheapPasswords, held: attackerPass}
	eachStore(t, func(t *testing.T, e *env) {
		gate.verifying, gate.release = make(chan struct{}), make(chan struct{})
		reg := e.register("victim") // by the attacker
		gate.armed.Store(true)
		done := make(chan error, 1)
		go func() {
			p := sm.Principal{UserID: reg.User.ID, SessionID: reg.Session.ID}
			_, err := e.m.ChangePassword(e.ctx, p, attackerPass, "the attacker's next password", sm.Actor{Type: sm.ActorUser, ID: reg.User.ID})
			done <- err
		}()
		select {
		case <-gate.verifying:
		case <-time.After(10 * time.Second):
			t.Fatal("the change never checked the current password")
		}
		g, err := e.m.IssueMagicLink(e.ctx, "victim@example.com", client, sm.MagicLinkOptions{})
		if err != nil || g == nil {
			t.Fatalf("issue: %v", err)
		}
		if _, err := e.m.VerifyMagicLink(e.ctx, g.Token, client); err != nil {
			t.Fatalf("owner's magic link: %v", err)
		}
		close(gate.release)
		err = <-done
		if !errors.Is(err, sm.ErrPasswordChanged) {
			t.Fatalf("the change that raced the proof: got %v, want ErrPasswordChanged", err)
		}
		u, err := e.store.UserByID(e.ctx, reg.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.PasswordHash != "" || u.PasswordUnproven {
			t.Errorf("after the proof the account has a password again: unproven=%v hash set=%v", u.PasswordUnproven, u.PasswordHash != "")
		}
		if _, err := e.m.Login(e.ctx, "victim", "the attacker's next password", client); err == nil {
			t.Error("the attacker's new password signs in")
		}
	}, func(c *sm.Config) { c.Passwords = gate })
}

// TestTokenOfOnePurposeNeverSignsIn: a confirmation link or a reset code is
// not a magic sign-in link, however the client dresses it, and a sign-in
// link is not a confirmation or reset token. Tokens of any other shape
// than the service's are refused like unknown links.
func TestTokenOfOnePurposeNeverSignsIn(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("alice")
		conf, err := e.m.IssueEmailConfirmation(e.ctx, "alice@example.com", client)
		if err != nil || conf == nil {
			t.Fatalf("confirmation: %v %v", conf, err)
		}
		reset, err := e.m.IssuePasswordReset(e.ctx, "alice@example.com", client)
		if err != nil || reset == nil {
			t.Fatalf("reset: %v %v", reset, err)
		}
		for _, tok := range []string{
			sm.TokenConfirmEmail + ":" + conf.Token, sm.TokenResetPassword + ":" + reset.Token,
			conf.Token, reset.Token,
			conf.Token + "=", " " + conf.Token, conf.Token[:42], conf.Token + "A", strings.ReplaceAll(conf.Token, "-", "+"),
		} {
			if _, err := e.m.VerifyMagicLink(e.ctx, tok, client); reasonOfInvalid(t, err) != "link_unknown" {
				t.Errorf("VerifyMagicLink(%q) = %v, want link_unknown", tok, err)
			}
		}
		g, err := e.m.IssueMagicLink(e.ctx, "alice@example.com", client, sm.MagicLinkOptions{})
		if err != nil || g == nil {
			t.Fatalf("magic link: %v", err)
		}
		if _, err := e.m.ConfirmEmail(e.ctx, g.Token, client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("a sign-in link as a confirmation: %v", err)
		}
		if _, err := e.m.ResetPassword(e.ctx, g.Token, "another long password", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("a sign-in link as a reset code: %v", err)
		}
		// Each still works for its own purpose.
		if _, err := e.m.VerifyMagicLink(e.ctx, g.Token, client); err != nil {
			t.Errorf("the sign-in link: %v", err)
		}
	})
}

// TestPasswordChangeSpendsOlderTokens: a reset, a password change and an
// email proof leave no older code or link of the account working.
func TestPasswordChangeSpendsOlderTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("alice")
		a, _ := e.m.IssuePasswordReset(e.ctx, "alice@example.com", client)
		b, _ := e.m.IssuePasswordReset(e.ctx, "alice@example.com", client)
		conf, _ := e.m.IssueEmailConfirmation(e.ctx, "alice@example.com", client)
		if a == nil || b == nil || conf == nil {
			t.Fatal("codes not issued")
		}
		res, err := e.m.ResetPassword(e.ctx, b.Token, "the owner's new password", client)
		if err != nil {
			t.Fatalf("reset with code B: %v", err)
		}
		if _, err := e.m.ResetPassword(e.ctx, a.Token, "the attacker's password", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("code A after the reset with B: %v", err)
		}
		if _, err := e.m.ConfirmEmail(e.ctx, conf.Token, client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("an older confirmation link after the reset: %v", err)
		}

		// A password change spends the codes sent before it.
		c, _ := e.m.IssuePasswordReset(e.ctx, "alice@example.com", client)
		p := sm.Principal{UserID: res.User.ID, SessionID: res.Session.ID}
		if _, err := e.m.ChangePassword(e.ctx, p, "the owner's new password", "the owner's third password", sm.Actor{Type: sm.ActorUser, ID: res.User.ID}); err != nil {
			t.Fatalf("change: %v", err)
		}
		if _, err := e.m.ResetPassword(e.ctx, c.Token, "the attacker's password", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("a code sent before the change: %v", err)
		}
	})
}

// TestEmailProofSpendsOlderTokens: the owner proving the email (magic link)
// kills the reset codes and links sent before, e.g. the attacker's.
func TestEmailProofSpendsOlderTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("victim") // by the attacker
		code, _ := e.m.IssuePasswordReset(e.ctx, "victim@example.com", client)
		g, _ := e.m.IssueMagicLink(e.ctx, "victim@example.com", client, sm.MagicLinkOptions{})
		if code == nil || g == nil {
			t.Fatal("not issued")
		}
		if _, err := e.m.VerifyMagicLink(e.ctx, g.Token, client); err != nil {
			t.Fatalf("proof: %v", err)
		}
		if _, err := e.m.ResetPassword(e.ctx, code.Token, "the attacker's password", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("a reset code sent before the proof: %v", err)
		}
	})
}

// TestMagicLinkIssuedBeforeUpgradeStillSignsIn: a sign-in link stored under
// the bare token's hash (before links had their own purpose) still works
// once, so an upgrade does not break links in flight.
func TestMagicLinkIssuedBeforeUpgradeStillSignsIn(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		reg := e.register("alice")
		tok, legacy, err := e.secrets.NewToken() // the bare token's lookup hash
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		l := &sm.MagicLink{Hash: legacy, Email: "alice@example.com", UserID: reg.User.ID, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := e.store.CreateMagicLink(e.ctx, l); err != nil {
			t.Fatal(err)
		}
		if res, err := e.m.VerifyMagicLink(e.ctx, tok, client); err != nil || res.User.ID != reg.User.ID {
			t.Fatalf("a link issued before the upgrade: %v", err)
		}
		if _, err := e.m.VerifyMagicLink(e.ctx, tok, client); reasonOfInvalid(t, err) != "link_used" {
			t.Errorf("second use: %v", err)
		}
	})
}
