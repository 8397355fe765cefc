package sessionmanager_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// countingPasswords counts the password checks of the real (cheap) hasher
// and makes each take 20ms, as a production hash does (argon2id takes
// longer), so parallel attempts really overlap.
type countingPasswords struct {
	sm.PasswordHasher
	verified atomic.Int64
}

func (c *countingPasswords) Verify(encoded, password string) (bool, error) {
	c.verified.Add(1)
	time.Sleep(20 * time.Millisecond)
	return c.PasswordHasher.Verify(encoded, password)
}

// parallel runs fn n times at once and counts the error codes ("" for nil).
func parallel(n int, fn func(i int) error) map[string]int {
	return testenv.Burst(n, func(i int) string { return sm.ErrorCode(fn(i)) })
}

// TestParallelFailuresReservedBeforeCheck: 50 parallel wrong passwords from
// one address with a refusal after 10 failures check exactly 10 passwords:
// each attempt is counted before its password is checked. (Checked first
// and counted after, all 50 were checked.)
func TestParallelFailuresReservedBeforeCheck(t *testing.T) {
	pw := &countingPasswords{PasswordHasher: cheapPasswords}
	eachStore(t, func(t *testing.T, e *env) {
		e.register("target")
		pw.verified.Store(0)
		got := parallel(50, func(i int) error {
			_, err := e.m.Login(e.ctx, "target", "wrong password!", client)
			return err
		})
		if got[sm.EINVALID] != 10 || got[sm.ETOOMANY] != 40 || pw.verified.Load() != 10 {
			t.Fatalf("50 parallel failures: %v, %d passwords checked; want 10 checked (400) and 40 refused (429)", got, pw.verified.Load())
		}
	}, func(c *sm.Config) {
		c.Passwords = pw
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) { return 0, ip >= 10, time.Minute }
	})
}

// TestSlowedAccountHoldsOneAttemptPerAddress: while an account is slowed,
// an address gets one attempt per delay on it; the others are refused at
// once (429 with the delay as Retry-After) instead of all being held for the
// delay and then checked. Another address still gets its own turn.
func TestSlowedAccountHoldsOneAttemptPerAddress(t *testing.T) {
	const delay = 3 * time.Second
	pw := &countingPasswords{PasswordHasher: cheapPasswords}
	eachStore(t, func(t *testing.T, e *env) {
		e.register("slowed")
		pw.verified.Store(0)
		var retry atomic.Int64
		// The one attempt that got the turn waits the delay on the clock;
		// the clock moves once every other attempt has been answered.
		answered := make(chan struct{}, 30)
		go func() {
			for range 29 {
				<-answered
			}
			e.clock.WaitTimers(1)
			e.clock.Advance(delay)
		}()
		got := parallel(30, func(i int) error {
			_, err := e.m.Login(e.ctx, "slowed", "wrong password!", client)
			var se *sm.Error
			if errors.As(err, &se) && se.Code == sm.ETOOMANY {
				retry.Store(int64(se.RetryAfterSeconds))
			}
			answered <- struct{}{}
			return err
		})
		// 2 free failures + 1 turn.
		if n := pw.verified.Load(); n != 3 || got[sm.ETOOMANY] != 27 {
			t.Fatalf("30 parallel attempts on a slowed account: %v, %d passwords checked; want 3", got, n)
		}
		if retry.Load() != int64(delay/time.Second) {
			t.Errorf("Retry-After %ds, want the delay %v", retry.Load(), delay)
		}
		other := sm.ClientInfo{IP: mustAddr("2001:db8:77::1"), UserAgent: "x"}
		go func() {
			e.clock.WaitTimers(1)
			e.clock.Advance(delay)
		}()
		if _, err := e.m.Login(e.ctx, "slowed", "a long enough password", other); err != nil {
			t.Fatalf("the user from another address while the account is slowed: %v", err)
		}
	}, func(c *sm.Config) {
		c.Passwords = pw
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) {
			if acct >= 2 {
				return delay, false, 0
			}
			return 0, false, 0
		}
	})
}

// TestSuccessGivesBackItsReservation: successful logins from one address
// (an office behind one NAT) never add up to a refusal; failures do.
func TestSuccessGivesBackItsReservation(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("office")
		for i := range 6 {
			if _, err := e.m.Login(e.ctx, "office", "a long enough password", client); err != nil {
				t.Fatalf("successful login %d from one address: %v", i+1, err)
			}
		}
		for range 3 {
			_, _ = e.m.Login(e.ctx, "office", "wrong password!", client)
		}
		if _, err := e.m.Login(e.ctx, "office", "a long enough password", client); sm.ErrorCode(err) != sm.ETOOMANY {
			t.Fatalf("after 3 failures the address is not refused: %v", err)
		}
	}, func(c *sm.Config) {
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) { return 0, ip >= 3, time.Minute }
	})
}

// TestBlockedAccountIsNoPasswordOracle: a wrong password on a blocked
// account answers exactly like one on an active account (same error, same
// path: the hash is verified and login.failed recorded); "blocked" comes
// only after the right password, and that attempt stays counted, so a
// blocked account tests passwords no faster than an active one.
func TestBlockedAccountIsNoPasswordOracle(t *testing.T) {
	var seen []int64
	eachStore(t, func(t *testing.T, e *env) {
		seen = seen[:0]
		e.register("active")
		blocked := e.register("blocked")
		if _, err := e.m.SetBlocked(sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: "token:ops"}), blocked.User.ID, true); err != nil {
			t.Fatal(err)
		}
		_, errActive := e.m.Login(e.ctx, "active", "wrong password!", client)
		_, errBlocked := e.m.Login(e.ctx, "blocked", "wrong password!", client)
		a, b := errActive.(*sm.Error), errBlocked.(*sm.Error)
		if a == nil || b == nil || !reflect.DeepEqual(a, b) || a.Code != sm.EINVALID {
			t.Fatalf("wrong password: active %#v, blocked %#v", errActive, errBlocked)
		}
		evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventLoginFailed}, Limit: 10})
		if err != nil || len(evs) != 2 || string(evs[0].Data) != string(evs[1].Data) {
			t.Fatalf("login.failed events for the two wrong passwords: %d %v", len(evs), err)
		}
		_, err = e.m.Login(e.ctx, "blocked", "a long enough password", client)
		if se, ok := err.(*sm.Error); !ok || se.Code != sm.EFORBIDDEN || se.Reason != sm.ReasonUserBlocked {
			t.Fatalf("right password on the blocked account: %v", err)
		}
		_, _ = e.m.Login(e.ctx, "blocked", "wrong password!", client)
		// The throttle saw the blocked account's attempts before each: 0, 1,
		// 2 (each attempt first asks about the address alone, with 0).
		if want := []int64{0, 0, 0, 0, 0, 1, 0, 2}; fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("account counts seen by the throttle %v, want %v (a right password on a blocked account must not clear them)", seen, want)
		}
	}, func(c *sm.Config) {
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) {
			seen = append(seen, acct)
			return 0, false, 0
		}
	})
}

// TestUnknownNameSpellingsShareOneCounter: failures for a name no account
// has are counted under the name's identity key, as account lookups are, so
// a look-alike spelling (full width, Cyrillic) of a slowed unknown name is
// slowed too, exactly as it would be if the account existed (the limit does
// not tell which names exist, nor is it dodged by re-spelling).
func TestUnknownNameSpellingsShareOneCounter(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		for i, name := range []string{"nobody", "NoBody"} {
			c := client
			c.IP = netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
			if _, err := e.m.Login(e.ctx, name, "wrong password!", c); sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		for i, name := range []string{"ｎｏｂｏｄｙ", "nоbоdy", "no\u200bbody"} {
			c := client
			c.IP = netip.AddrFrom4([4]byte{198, 51, 100, byte(20 + i)})
			if _, err := e.m.Login(e.ctx, name, "wrong password!", c); sm.ErrorCode(err) != sm.ETOOMANY {
				t.Errorf("look-alike %q of a slowed unknown name: %v, want 429", name, err)
			}
		}
	}, func(c *sm.Config) {
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) { return 0, acct >= 2, time.Minute }
	})
}

// keySpy records the keys a Counter was asked to increment.
type keySpy struct {
	sm.Counter
	mu   sync.Mutex
	keys map[string]bool
}

func (k *keySpy) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	k.mu.Lock()
	k.keys[key] = true
	k.mu.Unlock()
	return k.Counter.Incr(ctx, key, window)
}

// TestRefusedAddressCreatesNoAccountCounter: logins with made-up names from
// an address already refused create no counter for the name: the address
// is counted and refused first. (Before, each refused login still created
// a name key, so a cheap flood of refused logins filled the bounded
// in-memory counter and evicted other counts.)
func TestRefusedAddressCreatesNoAccountCounter(t *testing.T) {
	spy := &keySpy{Counter: sm.NewMemoryCounter(sm.SystemClock{}), keys: map[string]bool{}}
	e := newEnv(t, storeKinds[0], func(c *sm.Config) {
		c.Failures = spy
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) { return 0, ip >= 5, time.Minute }
	})
	codes := map[string]int{}
	for i := range 50 {
		_, err := e.m.Login(e.ctx, fmt.Sprintf("made-up-%d", i), "wrong password!", client)
		codes[sm.ErrorCode(err)]++
	}
	if codes[sm.EINVALID] != 5 || codes[sm.ETOOMANY] != 45 {
		t.Fatalf("answers: %v, want 5 checked and 45 refused", codes)
	}
	names := 0
	for k := range spy.keys {
		if strings.HasPrefix(k, "fail:ident:") || strings.HasPrefix(k, "fail:acct:") {
			names++
		}
	}
	if names != 5 {
		t.Errorf("%d name counters created, want 5 (one per attempt the address was allowed)", names)
	}
}

// TestLateGiveBackSparesTheNextWindow: a sign-in reserved in one failure
// window and given back (SecondFactorDue) after that window ended does not
// take a count from the next window's attempts. It used to: the give-back
// decremented whatever window was live, one extra guess per late give-back.
func TestLateGiveBackSparesTheNextWindow(t *testing.T) {
	e := newEnv(t, storeKinds[0], func(c *sm.Config) {
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) { return 0, ip >= 3, time.Minute }
	})
	ip := netip.MustParseAddr("203.0.113.9")
	early, err := e.m.ReserveSignIn(e.ctx, "alice", ip)
	if err != nil {
		t.Fatal(err)
	}
	// Within its window a give-back is taken: three more fit after it.
	now, err := e.m.ReserveSignIn(e.ctx, "alice", ip)
	if err != nil {
		t.Fatal(err)
	}
	now.SecondFactorDue(e.ctx)
	e.clock.Advance(16 * time.Minute) // the default window is 15 minutes
	for i := range 3 {
		if _, err := e.m.ReserveSignIn(e.ctx, "alice", ip); err != nil {
			t.Fatalf("attempt %d of the new window: %v", i+1, err)
		}
	}
	early.SecondFactorDue(e.ctx)
	if _, err := e.m.ReserveSignIn(e.ctx, "alice", ip); sm.ErrorCode(err) != sm.ETOOMANY {
		t.Fatalf("a fourth attempt after a give-back from the previous window: %v, want refused (429)", err)
	}
}
