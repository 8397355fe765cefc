package sessionmanager_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/cluster"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

const (
	totpSecret    = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	adminEmail    = "root@example.com"
	adminPassword = "a long admin password"
)

// addTOTPAdmin creates an admin with TOTP on in e's store.
func addTOTPAdmin(t *testing.T, e *env) *sm.Admin {
	t.Helper()
	hash, err := cheapPasswords.Hash(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	a := &sm.Admin{ID: "a-1", Email: adminEmail, PasswordHash: hash, CreatedAt: e.clock.Now()}
	if err := e.store.CreateAdmin(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.TOTPSealed, err = sm.SealTOTP(e.secrets, a.ID, totpSecret); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetAdminTOTP(e.ctx, a.ID, a.TOTPSealed); err != nil {
		t.Fatal(err)
	}
	return a
}

func totpAt(t *testing.T, at time.Time) string {
	t.Helper()
	code, err := sm.TOTPCode(totpSecret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// twoInstances are two instances, A (with its env) and B, each with its own
// connections to one PostgreSQL schema and its own Manager, sharing Redis
// as their failure counter (throttles, spent codes, DPoP jti).
func twoInstances(t *testing.T) (*env, *sm.Manager) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	prefix := testenv.Name("smtest:") + ":"
	shared := func(c *sm.Config) { c.Failures = cluster.NewRedisCounter(rdb, prefix) }
	url := testenv.PostgresSchema(t)
	open := func(t testing.TB) (storetest.Store, string) {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, ""
	}
	a := newEnv(t, storeKind{"postgres", open}, shared)
	stB, _ := open(t)
	secB, keysB := newKeys(t, stB, a.clock, 7)
	b := startManager(t, sm.Config{Store: stB, Tokens: keysB, Secrets: secB, Passwords: cheapPasswords,
		Clock: a.clock, InstanceID: "b"}, []func(*sm.Config){shared})
	return a, b
}

// TestAdminTOTPReplayRefusedOnAnotherInstance: two instances on one
// PostgreSQL database share Redis as their failure counter. A TOTP code
// that signed in on A is refused on B, and so is an older code of the
// window; the next step's code is accepted on B.
func TestAdminTOTPReplayRefusedOnAnotherInstance(t *testing.T) {
	ctx := context.Background()
	a, b := twoInstances(t)
	admin := addTOTPAdmin(t, a)

	code := totpAt(t, a.clock.Now())
	older := totpAt(t, a.clock.Now().Add(-30*time.Second))
	got, err := a.m.CheckAdminSignIn(ctx, adminEmail, adminPassword, code)
	if err != nil || got.ID != admin.ID {
		t.Fatalf("A: the right code: %v, %v", got, err)
	}
	if _, err := b.CheckAdminSignIn(ctx, adminEmail, adminPassword, code); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("B: the code A accepted: %v, want EUNAUTHORIZED", err)
	}
	if _, err := b.CheckAdminSignIn(ctx, adminEmail, adminPassword, older); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("B: the previous step's code after A used a later one: %v, want EUNAUTHORIZED", err)
	}
	a.clock.Advance(30 * time.Second)
	if _, err := b.CheckAdminSignIn(ctx, adminEmail, adminPassword, totpAt(t, a.clock.Now())); err != nil {
		t.Fatalf("B: the next step's code: %v", err)
	}
}

// TestAdminSignInChecksTOTP: with TOTP on, the password alone, a wrong
// code and a code outside the drift window are refused with the one
// answer a wrong password gets; without TOTP the password is enough.
func TestAdminSignInChecksTOTP(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		addTOTPAdmin(t, e)
		now := e.clock.Now()
		right := totpAt(t, now)
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		for name, c := range map[string]struct{ password, code string }{
			"no code":        {adminPassword, ""},
			"wrong code":     {adminPassword, wrong},
			"stale code":     {adminPassword, totpAt(t, now.Add(-90*time.Second))},
			"wrong password": {"not the password", right},
		} {
			if _, err := e.m.CheckAdminSignIn(e.ctx, adminEmail, c.password, c.code); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
				t.Errorf("%s: %v, want EUNAUTHORIZED", name, err)
			}
		}
		if _, err := e.m.CheckAdminSignIn(e.ctx, adminEmail, adminPassword, right); err != nil {
			t.Fatalf("the right code: %v", err)
		}
		if _, err := e.m.CheckAdminSignIn(e.ctx, adminEmail, adminPassword, right); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
			t.Fatalf("the same code again: %v, want EUNAUTHORIZED", err)
		}
		if err := e.store.SetAdminTOTP(e.ctx, "a-1", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.CheckAdminSignIn(e.ctx, adminEmail, adminPassword, ""); err != nil {
			t.Fatalf("TOTP off, the password alone: %v", err)
		}
	})
}
