package sessionmanager_test

import (
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// gatedHasher holds a Verify of the password held until released, so a
// test can prove an email while a login with that password is in flight.
type gatedHasher struct {
	sm.PasswordHasher
	held      string
	armed     atomic.Bool
	verifying chan struct{}
	release   chan struct{}
}

func (g *gatedHasher) Verify(encoded, password string) (bool, error) {
	ok, err := g.PasswordHasher.Verify(encoded, password)
	if password == g.held && g.armed.CompareAndSwap(true, false) {
		close(g.verifying)
		<-g.release
	}
	return ok, err
}

// TestProofVoidsPasswordLoginInFlight: a login that checked the unproven
// password just before the email's owner proved the address (magic link)
// gets no session: the session it creates is ended and it is refused.
func TestProofVoidsPasswordLoginInFlight(t *testing.T) {
	const attackerPass = "a long enough password"
	gate := &gatedHasher{PasswordHasher: cheapPasswords, held: attackerPass, verifying: make(chan struct{}), release: make(chan struct{})}
	eachStore(t, func(t *testing.T, e *env) {
		gate.verifying, gate.release = make(chan struct{}), make(chan struct{})
		reg := e.register("victim") // by the attacker, with their password
		gate.armed.Store(true)
		type outcome struct {
			res *sm.LoginResult
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := e.m.Login(e.ctx, "victim@example.com", attackerPass, client)
			done <- outcome{res, err}
		}()
		select {
		case <-gate.verifying:
		case <-time.After(10 * time.Second):
			t.Fatal("the login never verified the password")
		}
		g, err := e.m.IssueMagicLink(e.ctx, "victim@example.com", client, sm.MagicLinkOptions{})
		if err != nil || g == nil {
			t.Fatalf("issue: %v", err)
		}
		owner, err := e.m.VerifyMagicLink(e.ctx, g.Token, client)
		if err != nil {
			t.Fatalf("owner's magic link: %v", err)
		}
		close(gate.release)
		got := <-done
		if got.err == nil {
			t.Fatalf("the in-flight login with the voided password got session %s", got.res.Session.ID)
		}
		page, err := e.store.ListSessions(e.ctx, sm.SessionFilter{UserID: reg.User.ID, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Sessions) != 1 || page.Sessions[0].ID != owner.Session.ID {
			t.Errorf("live sessions after the proof: %d, want only the owner's", len(page.Sessions))
		}
	}, func(c *sm.Config) { c.Passwords = gate })
}
