package sessionmanager_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// readCounter counts the store reads a request should make once: the user
// and the login history.
type readCounter struct {
	storetest.Store
	users, histories, tokens atomic.Int64
}

func (c *readCounter) UserByID(ctx context.Context, id string) (*sm.User, error) {
	c.users.Add(1)
	return c.Store.UserByID(ctx, id)
}

func (c *readCounter) LoginHistory(ctx context.Context, userID string) (sm.LoginHistory, error) {
	c.histories.Add(1)
	return c.Store.LoginHistory(ctx, userID)
}

// reads runs fn and returns how many users and login histories it read.
func (c *readCounter) reads(fn func()) (users, histories int64) {
	u, h := c.users.Load(), c.histories.Load()
	fn()
	return c.users.Load() - u, c.histories.Load() - h
}

// TestStoreReadsNotRepeated: a password change reads the user once (its
// token pair answers with the user as written); a wrong proof reads no user
// for its alert; a passed challenge reads no login history again (the
// challenge kept the previous login its alerts name).
func TestStoreReadsNotRepeated(t *testing.T) {
	var rc *readCounter
	k := storeKinds[0]
	mail := &codeMailer{}
	e := newEnv(t, storeKind{k.name, func(t testing.TB) (storetest.Store, string) {
		st, p := k.open(t)
		rc = &readCounter{Store: st}
		return rc, p
	}}, withChallenges(mail), func(c *sm.Config) { c.Throttle = sm.NoThrottle })

	ann := e.register("ann")
	p, err := e.m.Authenticate(e.ctx, ann.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var res *sm.LoginResult
	users, _ := rc.reads(func() {
		res, err = e.m.ChangePassword(e.ctx, p, "a long enough password", "another long password", sm.Actor{Type: sm.ActorUser, ID: p.UserID})
	})
	if err != nil || res == nil || res.AccessToken == "" || res.User == nil || res.User.ID != p.UserID {
		t.Fatalf("change password: %+v %v", res, err)
	}
	if users != 1 {
		t.Errorf("change password read the user %d times, want 1", users)
	}

	if _, err := e.m.UpdateSettings(e.ctx, []byte(`{"actions":{"newDevice":"challenge"}}`)); err != nil {
		t.Fatal(err)
	}
	cleo := e.register("cleo")
	if _, err := e.m.ConfirmEmail(e.ctx, cleo.Confirmation.Token, client); err != nil {
		t.Fatal(err)
	}
	firefox := sm.ClientInfo{IP: client.IP, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"}
	var cid string
	_, histories := rc.reads(func() {
		_, err := e.m.Login(e.ctx, "cleo", "a long enough password", firefox)
		var ce *sm.Error
		if !errors.As(err, &ce) || ce.Challenge == nil {
			t.Fatalf("new browser: %v, want a challenge", err)
		}
		cid = ce.Challenge.ID
	})
	if histories != 1 {
		t.Fatalf("the challenged login read the history %d times, want 1", histories)
	}
	proof := func(code string) sm.Proof { return sm.Proof{Method: sm.MethodEmail, Code: code, Client: firefox} }
	if _, err := e.m.SendChallengeCode(e.ctx, cid, sm.MethodEmail, firefox); err != nil {
		t.Fatal(err)
	}
	good := mail.codes[len(mail.codes)-1]
	wrong := "123456"
	if wrong == good {
		wrong = "654321"
	}
	if users, _ := rc.reads(func() { _, err = e.m.VerifyChallenge(e.ctx, cid, proof(wrong)) }); sm.ErrorCode(err) != sm.EINVALID || users != 0 {
		t.Errorf("wrong proof: %v, %d user reads, want EINVALID and none", err, users)
	}
	if _, histories := rc.reads(func() { res, err = e.m.VerifyChallenge(e.ctx, cid, proof(good)) }); err != nil || histories != 0 {
		t.Errorf("passed challenge: %v, %d history reads, want none", err, histories)
	}
	if res == nil || res.Session == nil {
		t.Fatal("no session after the passed challenge")
	}
}

// TestUsernameReadOncePerTTL: token introspection's username comes
// from a cache kept as long as a session state (2 s): repeated calls
// for one user read the store once, the next read is after the TTL, and an
// erased user's name is not served from memory.
func TestUsernameReadOncePerTTL(t *testing.T) {
	var rc *readCounter
	k := storeKinds[0]
	e := newEnv(t, storeKind{k.name, func(t testing.TB) (storetest.Store, string) {
		st, p := k.open(t)
		rc = &readCounter{Store: st}
		return rc, p
	}})
	ann := e.register("ann")
	p, err := e.m.Authenticate(e.ctx, ann.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := rc.reads(func() {
		for range 50 {
			name, err := e.m.Username(e.ctx, p.UserID)
			if err != nil || name != ann.User.Username {
				t.Fatalf("Username = %q, %v; want %q", name, err, ann.User.Username)
			}
		}
	})
	if users != 1 {
		t.Fatalf("50 calls read the user %d times, want 1", users)
	}
	e.clock.Advance(3 * time.Second)
	if users, _ := rc.reads(func() { _, _ = e.m.Username(e.ctx, p.UserID) }); users != 1 {
		t.Fatalf("a call after the TTL read the user %d times, want 1", users)
	}
	if _, err := e.m.EraseUser(e.ctx, p.UserID); err != nil {
		t.Fatal(err)
	}
	if name, err := e.m.Username(e.ctx, p.UserID); err == nil && name == ann.User.Username {
		t.Fatalf("an erased user's username is still served: %q", name)
	}
}

func (c *readCounter) AdminTokenByHash(ctx context.Context, hash []byte) (*sm.AdminToken, error) {
	c.tokens.Add(1)
	return c.Store.AdminTokenByHash(ctx, hash)
}

// TestAdminTokenReadOncePerTTL: an admin API token (token introspection's
// service token) is read from the store once per state TTL, not on every
// call; a revocation is final at once on the instance that revokes and,
// through the bus, on another instance that has the token cached.
func TestAdminTokenReadOncePerTTL(t *testing.T) {
	var rc *readCounter
	k := storeKinds[0]
	bus := sm.NewLocalBus(nil)
	e := newEnv(t, storeKind{k.name, func(t testing.TB) (storetest.Store, string) {
		st, p := k.open(t)
		rc = &readCounter{Store: st}
		return rc, p
	}}, func(c *sm.Config) { c.Bus = bus })
	other := startManager(t, sm.Config{Store: rc, Tokens: e.keys, Secrets: e.secrets, Passwords: cheapPasswords,
		UserAgents: device.New(), Clock: e.clock, InstanceID: "other", Bus: bus}, nil)

	plain, tok, err := e.m.CreateAdminToken(e.ctx, "introspection", "service")
	if err != nil {
		t.Fatal(err)
	}
	check := func(m *sm.Manager) error { _, err := m.CheckAdminToken(e.ctx, plain, "service"); return err }
	reads := func(fn func()) int64 { n := rc.tokens.Load(); fn(); return rc.tokens.Load() - n }
	if n := reads(func() {
		for range 50 {
			if err := check(e.m); err != nil {
				t.Fatal(err)
			}
			if err := check(other); err != nil {
				t.Fatal(err)
			}
		}
	}); n != 2 {
		t.Fatalf("100 checks on two instances read the token %d times, want 2", n)
	}
	e.clock.Advance(3 * time.Second)
	if n := reads(func() { _ = check(e.m) }); n != 1 {
		t.Fatalf("a check after the TTL read the token %d times, want 1", n)
	}
	if err := check(other); err != nil { // cached again on the other instance
		t.Fatal(err)
	}
	if err := e.m.RevokeAdminToken(e.ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := check(e.m); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("the revoking instance accepts a revoked token: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second) // the bus delivers on its own goroutine; the manual clock stands still
	for check(other) == nil {
		if time.Now().After(deadline) {
			t.Fatal("another instance still accepts a revoked token from its cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
