package sessionmanager_test

import (
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestClockJumpForwardPastMaxAge: the wall clock jumps a day forward past
// the absolute session lifetime: the access token is refused (expired), the
// refresh ends the session as expired, and it stays ended.
func TestClockJumpForwardPastMaxAge(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("jumpfwd")
		e.clock.Advance(25 * time.Hour)
		if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err == nil {
			t.Fatal("an access token was accepted a day after it was issued")
		}
		if _, err := e.m.Refresh(e.ctx, res.RefreshToken, client); reasonOf(t, err) != "expired" {
			t.Fatalf("refresh past max age: %v", err)
		}
		s, err := e.store.SessionByID(e.ctx, res.Session.ID)
		if err != nil || s.Status != sm.StatusEnded || s.EndReason != sm.EndExpired {
			t.Fatalf("session after the jump: %v %+v", err, s)
		}
	}, func(c *sm.Config) { c.MaxSessionAge = 24 * time.Hour })
}

// TestClockJumpBackward: the clock jumps an hour back (an NTP step): no
// ended session comes back (expired, logged out, reuse-ended), a spent
// refresh token is not given a longer grace than the configured window, and
// live sessions keep working (iat is not checked: exp and the stored state
// decide, so a backward step does not sign everyone out).
func TestClockJumpBackward(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		// Expired, then the clock goes back before the expiry.
		old := e.register("jumpexp")
		e.clock.Advance(25 * time.Hour)
		if _, err := e.m.Refresh(e.ctx, old.RefreshToken, client); reasonOf(t, err) != "expired" {
			t.Fatalf("refresh past max age: %v", err)
		}
		e.clock.Advance(-2 * time.Hour)
		if _, err := e.m.Refresh(e.ctx, old.RefreshToken, client); reasonOf(t, err) != "expired" {
			t.Errorf("an expired session was revived by a backward jump: %v", err)
		}

		// Logged out, then the clock goes back.
		out := e.login("jumpexp")
		if err := e.m.EndSession(e.ctx, out.Session.ID, sm.EndLogout, sm.Actor{Type: sm.ActorUser}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(-time.Hour)
		if _, err := e.m.Authenticate(e.ctx, out.AccessToken); reasonOf(t, err) != "logout" {
			t.Errorf("a logged-out token after a backward jump: %v", err)
		}
		if _, err := e.m.Refresh(e.ctx, out.RefreshToken, client); reasonOf(t, err) != "logout" {
			t.Errorf("a logged-out refresh after a backward jump: %v", err)
		}

		// Grace: A rotated to B, the grace passes, the clock steps back an
		// hour: A is a spent token, not a retry.
		live := e.login("jumpexp")
		r1, err := e.m.Refresh(e.ctx, live.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.clock.Advance(-time.Hour)
		// A live session's tokens still work: issued "in the future" by the
		// new clock, yet valid (exp is later still) and not ended.
		if _, err := e.m.Authenticate(e.ctx, r1.AccessToken); err != nil {
			t.Errorf("a live session after a backward jump: %v", err)
		}
		if _, err := e.m.Refresh(e.ctx, live.RefreshToken, client); reasonOf(t, err) != "refresh_reuse" {
			t.Errorf("a spent refresh token was a retry an hour after its grace (backward jump): %v", err)
		}
	}, func(c *sm.Config) { c.MaxSessionAge = 24 * time.Hour })
}
