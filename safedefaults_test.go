package sessionmanager_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// bareManager is a Manager configured as a library user who sets only the
// store and the keys would (plus a clock that stands still, so the failure
// windows do not run out while the test runs).
func bareManager(t *testing.T, k storeKind, opts ...func(*sm.Config)) *sm.Manager {
	t.Helper()
	st, _ := k.open(t)
	clock := sm.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	sec, keys := newKeys(t, st, clock, 9)
	return startManager(t, sm.Config{Store: st, Tokens: keys, Secrets: sec, Passwords: cheapPasswords, Clock: stillClock{now: clock.Now()}}, opts)
}

// stillClock stands still (no window runs out) while its timers are real
// (a login delay passes).
type stillClock struct {
	sm.SystemClock
	now time.Time
}

func (c stillClock) Now() time.Time { return c.now }

// TestZeroConfigThrottlesBruteForce: with Config.Throttle unset, guessing
// one account's password is slowed after DefaultThrottleLimits'
// AccountSlowAfter failures, and a guess made while the slowed one still
// holds its turn is refused; NoThrottle is the explicit opt-out.
func TestZeroConfigThrottlesBruteForce(t *testing.T) {
	guess := func(m *sm.Manager) error {
		_, err := m.Login(context.Background(), "victim", "wrong password!", client)
		return err
	}
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				opts     []func(*sm.Config)
				lastCode string
			}{
				{"default", nil, sm.ETOOMANY},
				{"opt-out", []func(*sm.Config){func(c *sm.Config) { c.Throttle = sm.NoThrottle }}, sm.EINVALID},
			} {
				t.Run(tc.name, func(t *testing.T) {
					m := bareManager(t, k, tc.opts...)
					ctx := context.Background()
					if _, err := m.Register(ctx, sm.RegisterInput{Username: "victim", Email: "victim@example.com", Password: "a long enough password"}, client); err != nil {
						t.Fatal(err)
					}
					// The free failures, then the first slowed one: it waits
					// for its delay (250ms) and holds the account's turn for
					// this address; the clock stands still, so the turn does
					// not run out.
					for i := range sm.DefaultThrottleLimits.AccountSlowAfter + 1 {
						if err := guess(m); sm.ErrorCode(err) != sm.EINVALID {
							t.Fatalf("guess %d: want the wrong-password answer, got %v", i+1, err)
						}
					}
					if err := guess(m); sm.ErrorCode(err) != tc.lastCode {
						t.Fatalf("the guess after the slowed one: want %s, got %v", tc.lastCode, err)
					}
				})
			}
		})
	}
}

// TestZeroConfigRefusesBadSettings: with Config.ValidateSettings unset,
// settings the root package knows to be wrong are refused, naming the
// field, and nothing is stored.
func TestZeroConfigRefusesBadSettings(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			m := bareManager(t, k)
			ctx := context.Background()
			for patch, field := range map[string]string{
				`{"scoreThreshold": 500}`:            "scoreThreshold",
				`{"blockedCountries": ["XX"]}`:       "blockedCountries[0]",
				`{"actions": {"tor": "explode"}}`:    "actions.tor",
				`{"geoLookupFailure": "sometimes"}`:  "geoLookupFailure",
				`{"maxSessionsPerUser": -1}`:         "maxSessionsPerUser",
				`{"failedLoginWindow": -1000000000}`: "failedLoginWindow",
				`{"noSuchSetting": 1}`:               "noSuchSetting",
				`{"actions": {"bogus": "block"}}`:    "actions.bogus",
			} {
				_, err := m.UpdateSettings(sm.WithActor(ctx, sm.Actor{Type: sm.ActorAdmin, ID: "a1"}), []byte(patch))
				var e *sm.Error
				if sm.ErrorCode(err) != sm.EINVALID || !errors.As(err, &e) || e.Fields[field] == "" {
					t.Errorf("%s: want EINVALID naming %s, got %v", patch, field, err)
				}
			}
			s, err := m.Settings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.ScoreThreshold == 500 || len(s.BlockedCountries) > 0 {
				t.Errorf("a refused patch was stored: %+v", s)
			}
			// What is valid is normalised and kept.
			s, err = m.UpdateSettings(sm.WithActor(ctx, sm.Actor{Type: sm.ActorAdmin, ID: "a1"}), []byte(`{"blockedCountries": [" fr "]}`))
			if err != nil || len(s.BlockedCountries) != 1 || s.BlockedCountries[0] != "FR" {
				t.Fatalf("valid patch: %v, %+v", err, s)
			}
		})
	}
}

// TestZeroConfigRefusesWeakPassword: with Config.ValidatePassword unset, a
// sign-up with a password shorter than the policy is refused, naming the
// password field.
func TestZeroConfigRefusesWeakPassword(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			m := bareManager(t, k)
			_, err := m.Register(context.Background(), sm.RegisterInput{Username: "weak", Email: "weak@example.com", Password: "abc"}, client)
			var e *sm.Error
			if sm.ErrorCode(err) != sm.EINVALID || !errors.As(err, &e) || e.Fields["password"] != "password must be at least 8 characters" {
				t.Fatalf("want EINVALID naming the password, got %v ", err)
			}
		})
	}
}

// TestZeroConfigThrottlesAppSignIn: an application that checks its own
// passwords (examples/embedded) reserves each attempt with ReserveSignIn,
// throttled by the same defaults as Login.
func TestZeroConfigThrottlesAppSignIn(t *testing.T) {
	m := bareManager(t, storeKinds[0])
	ip := mustAddr("198.51.100.9")
	ctx := context.Background()
	for i := range sm.DefaultThrottleLimits.AccountSlowAfter + 1 {
		if _, err := m.ReserveSignIn(ctx, "alice", ip); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err) // the last one waits its delay first
		}
	}
	if _, err := m.ReserveSignIn(ctx, "alice", ip); sm.ErrorCode(err) != sm.ETOOMANY {
		t.Fatalf("the attempt after the slowed one: want ETOOMANY, got %v", err)
	}
}

// TestZeroConfigCapsSignUps: with Config.RegisterPerIP unset, one address
// gets DefaultRegisterPerIP sign-ups per window (each costs a password
// hash), then ETOOMANY; a negative value is the explicit opt-out.
func TestZeroConfigCapsSignUps(t *testing.T) {
	k := storeKinds[0]
	signUps := func(m *sm.Manager, n int) error {
		for i := range n {
			name := "cap" + strconv.Itoa(i)
			if _, err := m.Register(context.Background(), sm.RegisterInput{Username: name, Email: name + "@example.com", Password: "long enough password"}, client); err != nil {
				return err
			}
		}
		return nil
	}
	if err := signUps(bareManager(t, k), sm.DefaultRegisterPerIP+1); sm.ErrorCode(err) != sm.ETOOMANY {
		t.Fatalf("sign-up %d from one address: %v, want ETOOMANY", sm.DefaultRegisterPerIP+1, err)
	}
	if err := signUps(bareManager(t, k, func(c *sm.Config) { c.RegisterPerIP = -1 }), sm.DefaultRegisterPerIP+1); err != nil {
		t.Fatalf("RegisterPerIP -1 (no cap): %v", err)
	}
}
