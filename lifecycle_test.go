package sessionmanager_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

func TestLoginRefreshLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		reg := e.register("alice")
		if reg.Session.Device.Browser != "Chrome" || reg.Session.Device.OS != "Windows" {
			t.Errorf("device not parsed: %+v", reg.Session.Device)
		}
		if reg.Session.IP != client.IP {
			t.Errorf("ip = %v", reg.Session.IP)
		}
		p, err := e.m.Authenticate(e.ctx, reg.AccessToken)
		if err != nil || p.SessionID != reg.Session.ID || p.UserID != reg.User.ID {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		// Wrong password and unknown user: the same 400, no session.
		if _, err := e.m.Login(e.ctx, "alice", "wrong password!", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("wrong password: %v", err)
		}
		if _, err := e.m.Login(e.ctx, "nobody", "wrong password!", client); sm.ErrorCode(err) != sm.EINVALID || sm.ErrorMessage(err) != "Invalid identifier or password" {
			t.Errorf("unknown user: %v", err)
		}
		// Login by email works and starts a second session.
		res, err := e.m.Login(e.ctx, "ALICE@example.com", "a long enough password", client)
		if err != nil || res.Session.ID == reg.Session.ID {
			t.Fatalf("login by email: %v", err)
		}

		// Rotation: a new refresh token each time.
		r1, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		if r1.RefreshToken == res.RefreshToken || r1.Session.ID != res.Session.ID {
			t.Fatal("refresh did not rotate")
		}
		// A retry with the old token inside the grace window: same new token.
		e.clock.Advance(5 * time.Second)
		r1b, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
		if err != nil || r1b.RefreshToken != r1.RefreshToken {
			t.Fatalf("retry in grace: %v (same token: %v)", err, err == nil && r1b.RefreshToken == r1.RefreshToken)
		}
		r2, err := e.m.Refresh(e.ctx, r1.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		// Logout: access and refresh both fail at once.
		if err := e.m.EndSession(e.ctx, res.Session.ID, sm.EndLogout, sm.Actor{Type: sm.ActorUser}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Authenticate(e.ctx, r2.AccessToken); reasonOf(t, err) != "logout" {
			t.Errorf("access after logout: %v", err)
		}
		if _, err := e.m.Refresh(e.ctx, r2.RefreshToken, client); reasonOf(t, err) != "logout" {
			t.Errorf("refresh after logout: %v", err)
		}
		// The other session is untouched.
		if _, err := e.m.Authenticate(e.ctx, reg.AccessToken); err != nil {
			t.Errorf("other session: %v", err)
		}
	})
}

func TestRefreshReuseAfterGraceEndsSession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("bob")
		r1, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(11 * time.Second) // past the 10s grace window
		_, err = e.m.Refresh(e.ctx, res.RefreshToken, client)
		if reasonOf(t, err) != "refresh_reuse" {
			t.Fatalf("reuse: %v", err)
		}
		// The thief's replay killed the whole session: the legitimate new
		// tokens are dead too.
		if _, err := e.m.Refresh(e.ctx, r1.RefreshToken, client); reasonOf(t, err) != "refresh_reuse" {
			t.Errorf("new refresh after reuse: %v", err)
		}
		if _, err := e.m.Authenticate(e.ctx, r1.AccessToken); reasonOf(t, err) != "refresh_reuse" {
			t.Errorf("access after reuse: %v", err)
		}
		events, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventRefreshReuse}, Limit: 10})
		if err != nil || len(events) != 1 || events[0].SessionID != res.Session.ID {
			t.Fatalf("refresh_reuse event: %v %+v", err, events)
		}
	})
}

func TestRefreshTwoRotationsBackIsReuse(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("carol")
		r1, _ := e.m.Refresh(e.ctx, res.RefreshToken, client)
		if _, err := e.m.Refresh(e.ctx, r1.RefreshToken, client); err != nil {
			t.Fatal(err)
		}
		// res.RefreshToken is two rotations old: even inside the window it
		// is not a retry of the current token.
		if _, err := e.m.Refresh(e.ctx, res.RefreshToken, client); reasonOf(t, err) != "refresh_reuse" {
			t.Fatalf("stale token: %v", err)
		}
	})
}

func TestConcurrentRefreshRotatesOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("dave")
		const n = 12
		var wg sync.WaitGroup
		tokens := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
				errs[i] = err
				if err == nil {
					tokens[i] = r.RefreshToken
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("refresh %d: %v", i, errs[i])
			}
			if tokens[i] != tokens[0] {
				t.Fatalf("two different rotations: %q vs %q", tokens[i][:8], tokens[0][:8])
			}
		}
		// Exactly one rotation happened: the token all got is current.
		if _, err := e.m.Refresh(e.ctx, tokens[0], client); err != nil {
			t.Fatalf("winner token not current: %v", err)
		}
	})
}

func TestForceLogoutBlockAndPasswordChange(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		a := e.register("erin")
		b := e.login("erin")
		c := e.login("erin")
		admin := sm.Actor{Type: sm.ActorAdmin, ID: "token:ops"}

		if err := e.m.EndSession(e.ctx, a.Session.ID, sm.EndManual, admin); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Authenticate(e.ctx, a.AccessToken); reasonOf(t, err) != "manual" {
			t.Error("force-logged-out access token still works")
		}
		if _, err := e.m.Refresh(e.ctx, a.RefreshToken, client); reasonOf(t, err) != "manual" {
			t.Error("force-logged-out refresh token still works")
		}
		if err := e.m.EndSession(e.ctx, "no-such-session", sm.EndManual, admin); !sm.IsNotFound(err) {
			t.Errorf("unknown session: %v", err)
		}

		// Password change ends the others, keeps the current one.
		p, _ := e.m.Authenticate(e.ctx, b.AccessToken)
		if _, err := e.m.ChangePassword(e.ctx, p, "wrong", "another long password", admin); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("wrong current password: %v", err)
		}
		if _, err := e.m.ChangePassword(e.ctx, p, "a long enough password", "another long password", sm.Actor{Type: sm.ActorUser}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Authenticate(e.ctx, b.AccessToken); err != nil {
			t.Errorf("current session after password change: %v", err)
		}
		if _, err := e.m.Authenticate(e.ctx, c.AccessToken); reasonOf(t, err) != "password_changed" {
			t.Error("other session survived a password change")
		}
		if _, err := e.m.Login(e.ctx, "erin", "a long enough password", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Error("old password still works")
		}

		// Block: everything ends, new logins and refreshes are refused.
		if _, err := e.m.SetBlocked(sm.WithActor(e.ctx, admin), b.User.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Authenticate(e.ctx, b.AccessToken); reasonOf(t, err) != "blocked" {
			t.Error("blocked user's session works")
		}
		if _, err := e.m.Refresh(e.ctx, b.RefreshToken, client); reasonOf(t, err) != "blocked" {
			t.Error("blocked user's refresh works")
		}
		_, err := e.m.Login(e.ctx, "erin", "another long password", client)
		var se *sm.Error
		if !errors.As(err, &se) || se.Code != sm.EFORBIDDEN || se.Reason != sm.ReasonUserBlocked {
			t.Errorf("blocked login: %v", err)
		}
		if _, err := e.m.SetBlocked(sm.WithActor(e.ctx, admin), b.User.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Login(e.ctx, "erin", "another long password", client); err != nil {
			t.Errorf("unblocked login: %v", err)
		}
	})
}

func TestSessionCapEvictsOldest(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		if _, err := e.m.UpdateSettings(sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin}), []byte(`{"maxSessionsPerUser":2}`)); err != nil {
			t.Fatal(err)
		}
		first := e.register("fay")
		e.clock.Advance(time.Second)
		second := e.login("fay")
		e.clock.Advance(time.Second)
		third := e.login("fay")
		if _, err := e.m.Authenticate(e.ctx, first.AccessToken); reasonOf(t, err) != "evicted" {
			t.Errorf("oldest not evicted: %v", err)
		}
		for _, r := range []*sm.LoginResult{second, third} {
			if _, err := e.m.Authenticate(e.ctx, r.AccessToken); err != nil {
				t.Errorf("newer session evicted: %v", err)
			}
		}
	})
}

func TestTimeouts(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("gus")
		other := e.login("gus")
		// Inactivity: no activity for 15m -> inactive; activity -> active.
		e.clock.Advance(16 * time.Minute)
		if _, err := e.m.Authenticate(e.ctx, other.AccessToken); err == nil {
			// access token (15m) expired: refresh to keep going
			t.Fatal("access token outlived its TTL")
		}
		if _, err := e.m.Sweep(e.ctx); err != nil {
			t.Fatal(err)
		}
		s, _ := e.store.SessionByID(e.ctx, res.Session.ID)
		if s.Status != sm.StatusInactive {
			t.Fatalf("status after 16m idle = %s", s.Status)
		}
		r, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
		if err != nil {
			t.Fatalf("inactive session must still refresh: %v", err)
		}
		if _, err := e.m.Authenticate(e.ctx, r.AccessToken); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
		s, _ = e.store.SessionByID(e.ctx, res.Session.ID)
		if s.Status != sm.StatusActive || !s.LastSeenAt.Equal(e.clock.Now()) {
			t.Fatalf("activity did not reactivate: %s last seen %v", s.Status, s.LastSeenAt)
		}
		// Max session age (720h) ends the session (expired).
		e.clock.Advance(721 * time.Hour)
		if _, err := e.m.Sweep(e.ctx); err != nil {
			t.Fatal(err)
		}
		s, _ = e.store.SessionByID(e.ctx, res.Session.ID)
		if s.Status != sm.StatusEnded || s.EndReason != sm.EndExpired {
			t.Fatalf("after max age: %s %s", s.Status, s.EndReason)
		}
		if _, err := e.m.Refresh(e.ctx, r.RefreshToken, client); reasonOf(t, err) != "expired" {
			t.Errorf("refresh after expiry: %v", err)
		}
		// Retention: purged 30 days after the end, not before.
		if n, _ := e.m.Purge(e.ctx); n != 0 {
			t.Errorf("purged %d sessions before retention", n)
		}
		e.clock.Advance(721 * time.Hour)
		if n, err := e.m.Purge(e.ctx); err != nil || n != 2 {
			t.Errorf("purge after retention = %d, %v (want 2)", n, err)
		}
		if _, err := e.store.SessionByID(e.ctx, res.Session.ID); !sm.IsNotFound(err) {
			t.Errorf("purged session still there: %v", err)
		}
	})
}

func TestIdleTimeoutEndsSession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("hal")
		e.clock.Advance(61 * time.Minute)
		if _, err := e.m.Sweep(e.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Refresh(e.ctx, res.RefreshToken, client); reasonOf(t, err) != "idle" {
			t.Errorf("refresh after idle timeout: %v", err)
		}
	}, func(c *sm.Config) { c.IdleTimeout = time.Hour })
}

func TestLastSeenWritesAtMostOncePerInterval(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("ivy")
		if err := e.m.Flush(e.ctx); err != nil { // the login's own note
			t.Fatal(err)
		}
		base := e.sink.writes.Load()
		// 1,000 requests over 100 s: at most one write per 30 s interval.
		for range 1000 {
			if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(100 * time.Millisecond)
			if err := e.m.Flush(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		writes := e.sink.writes.Load() - base
		if writes < 3 || writes > 4 {
			t.Fatalf("%d store writes for 1000 requests over 100s (want 3 or 4: one per 30s)", writes)
		}
		s, _ := e.store.SessionByID(e.ctx, res.Session.ID)
		if e.clock.Now().Sub(s.LastSeenAt) > 30*time.Second {
			t.Errorf("stored last-seen %v lags more than one interval behind %v", s.LastSeenAt, e.clock.Now())
		}
	})
}

// TestDegradedReadsTheStore: while the bus is down (Degraded), a session
// ended by another instance (straight in the store, no bus message) is
// refused at once; in fail-closed mode (Unavailable) every request is 503.
func TestDegradedReadsTheStore(t *testing.T) {
	var mode sm.Availability
	eachStore(t, func(t *testing.T, e *env) {
		mode = sm.Available
		res := e.register("deg")
		if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
			t.Fatal(err)
		}
		// Another instance ends it; this one hears nothing.
		if _, err := e.store.EndSession(e.ctx, res.Session.ID, sm.EndManual, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
			t.Fatalf("healthy bus: the cached state serves until its TTL (got %v)", err)
		}
		mode = sm.Degraded
		if _, err := e.m.Authenticate(e.ctx, res.AccessToken); reasonOf(t, err) != "manual" {
			t.Fatalf("degraded: the store's end must hold at once, got %v", err)
		}
		other := e.login("deg")
		mode = sm.Unavailable
		if _, err := e.m.Authenticate(e.ctx, other.AccessToken); sm.ErrorCode(err) != sm.EUNAVAILABLE {
			t.Fatalf("fail-closed: want 503, got %v", err)
		}
	}, func(c *sm.Config) {
		c.Availability = func() sm.Availability { return mode }
	})
}

func TestRegisterPerIPCap(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		for i := range 3 {
			if _, err := e.m.Register(e.ctx, sm.RegisterInput{Username: fmt.Sprintf("cap%d", i), Email: fmt.Sprintf("cap%d@example.com", i), Password: "a long enough password"}, client); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.m.Register(e.ctx, sm.RegisterInput{Username: "cap9", Email: "cap9@example.com", Password: "a long enough password"}, client)
		if sm.ErrorCode(err) != sm.ETOOMANY {
			t.Fatalf("4th sign-up from one IP: %v", err)
		}
		other := client
		other.IP = mustAddr("198.51.100.9")
		if _, err := e.m.Register(e.ctx, sm.RegisterInput{Username: "cap10", Email: "cap10@example.com", Password: "a long enough password"}, other); err != nil {
			t.Fatalf("another IP: %v", err)
		}
	}, func(c *sm.Config) { c.RegisterPerIP = 3 })
}

// TestThrottleDoesNotRevealAccounts: an unknown identifier is slowed like
// a known one (its failures are counted too).
func TestThrottleDoesNotRevealAccounts(t *testing.T) {
	var slowed = map[string]int64{}
	eachStore(t, func(t *testing.T, e *env) {
		clear(slowed) // each store on its own
		e.register("known")
		for _, id := range []string{"known", "nobody-here"} {
			for range 6 {
				_, _ = e.m.Login(e.ctx, id, "wrong password!", sm.ClientInfo{IP: mustAddr("198.51.100.20"), UserAgent: "x"})
			}
		}
		if slowed["known"] == 0 || slowed["known"] != slowed["nobody-here"] {
			t.Fatalf("account failure counts seen by the throttle differ: %v", slowed)
		}
	}, func(c *sm.Config) {
		c.Throttle = func(acct, ip int64) (time.Duration, bool, time.Duration) {
			// Record the account count the throttle sees per identifier run.
			if ip < 6 {
				slowed["known"] = max(slowed["known"], acct)
			} else {
				slowed["nobody-here"] = max(slowed["nobody-here"], acct)
			}
			return 0, false, 0
		}
	})
}

// TestBadUserAgentBytes: a user agent with invalid UTF-8 and control bytes
// is cleaned, and the login and its audit event are recorded.
func TestBadUserAgentBytes(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("uabytes")
		bad := sm.ClientInfo{IP: client.IP, UserAgent: "curl\xff\x00\x1b" + strings.Repeat("é", 600)}
		res, err := e.m.Login(e.ctx, "uabytes", "a long enough password", bad)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(res.Session.UserAgent) || len(res.Session.UserAgent) > 1024 || strings.ContainsAny(res.Session.UserAgent, "\x00\x1b") {
			t.Errorf("user agent not cleaned: %q", res.Session.UserAgent[:20])
		}
		_, _ = e.m.Login(e.ctx, "uabytes", "wrong password!", bad)
		evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventLoginFailed}, Limit: 5})
		if err != nil || len(evs) != 1 {
			t.Fatalf("the failed login with a bad user agent left %d events (%v)", len(evs), err)
		}
	})
}

// flakyEvents fails the first AppendEvent of one type, then writes to the
// real store: a store hiccup at the worst moment.
type flakyEvents struct {
	storetest.Store
	mu     sync.Mutex
	failOn string
	failed bool
}

func (f *flakyEvents) AppendEvent(ctx context.Context, e *sm.Event, ds []*sm.Delivery) error {
	f.mu.Lock()
	fail := e.Type == f.failOn && !f.failed
	if fail {
		f.failed = true
	}
	f.mu.Unlock()
	if fail {
		return errors.New("store hiccup")
	}
	return f.Store.AppendEvent(ctx, e, ds)
}

// TestAuditRetriedAfterAHiccup: the session.ended event of a force logout
// (which the revocation feed reads) is written even if the first write
// fails: the next Flush (every second under Run) writes it, exactly once.
func TestAuditRetriedAfterAHiccup(t *testing.T) {
	k := storeKinds[0]
	var fl *flakyEvents
	e := newEnv(t, storeKind{"sqlite", func(t testing.TB) (storetest.Store, string) {
		st, p := k.open(t)
		fl = &flakyEvents{Store: st, failOn: sm.EventSessionEnded}
		return fl, p
	}})
	res := e.register("hiccup")
	if err := e.m.EndSession(e.ctx, res.Session.ID, sm.EndManual, sm.Actor{Type: sm.ActorAdmin}); err != nil {
		t.Fatal(err)
	}
	if !fl.failed {
		t.Fatal("the hiccup was never injected")
	}
	for range 2 { // the second Flush must not write it again
		if err := e.m.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventSessionEnded}, SessionID: res.Session.ID, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d session.ended events after a failed first write and a Flush, want exactly 1", len(evs))
	}
}

// blockDuringLogin blocks the user right after the login's session is
// created: the admin's block landing while the login is checked.
type blockDuringLogin struct {
	storetest.Store
	on bool
}

func (b *blockDuringLogin) CreateSession(ctx context.Context, s *sm.Session, hash []byte) error {
	if err := b.Store.CreateSession(ctx, s, hash); err != nil {
		return err
	}
	if b.on {
		blocked := true
		_, err := b.Store.UpdateUser(ctx, s.UserID, sm.UserUpdate{Blocked: &blocked, UpdatedAt: s.CreatedAt})
		return err
	}
	return nil
}

// TestLoginRacingABlockDoesNotSurvive: a session born while the user was
// being blocked is ended at once and the login refused.
func TestLoginRacingABlockDoesNotSurvive(t *testing.T) {
	k := storeKinds[0]
	var st *blockDuringLogin
	e := newEnv(t, storeKind{"sqlite", func(t testing.TB) (storetest.Store, string) {
		s, p := k.open(t)
		st = &blockDuringLogin{Store: s}
		return st, p
	}})
	first := e.register("racer") // the block here bypasses SetBlocked, so this one stays
	st.on = true
	_, err := e.m.Login(e.ctx, "racer", "a long enough password", client)
	var se *sm.Error
	if !errors.As(err, &se) || se.Code != sm.EFORBIDDEN || se.Reason != sm.ReasonUserBlocked {
		t.Fatalf("login racing a block: %v", err)
	}
	page, err := e.store.ListSessions(e.ctx, sm.SessionFilter{Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range page.Sessions {
		if s.ID != first.Session.ID {
			t.Errorf("the racing login's session %s (%s) survived the block", s.ID, s.Status)
		}
	}
}

// TestIdleSweepSparesASessionInUse: with the idle timeout as short as the
// last-seen interval, a session used every second is never ended as idle,
// although its stored last-seen lags up to one interval behind.
func TestIdleSweepSparesASessionInUse(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("busy")
		for i := range 150 { // 150 s of activity, a sweep every second
			e.clock.Advance(time.Second)
			if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
				t.Fatalf("after %d s: %v", i+1, err)
			}
			if i%7 == 0 {
				_ = e.m.Flush(e.ctx)
			}
			if _, err := e.m.Sweep(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}, func(c *sm.Config) {
		c.IdleTimeout, c.LastSeenInterval, c.AccessTokenTTL = 30*time.Second, 30*time.Second, time.Hour
	})
}

// A backlog larger than a sweep batch (here 2.5 batches of stale sessions
// and more than a batch of expired ones) is swept whole by one Sweep, a
// batch at a time: each expired session ended and announced once, every
// stale one marked inactive.
func TestSweepTakesABacklogInBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		res := e.register("backlog")
		now := e.clock.Now()
		stale := sm.SweepBatch*2 + sm.SweepBatch/2
		expired := sm.SweepBatch + 7
		sessions := func(yield func(*sm.Session) bool) {
			for i := range stale + expired {
				s := &sm.Session{ID: fmt.Sprintf("backlog-%05d", i), UserID: res.User.ID, Status: sm.StatusActive,
					CreatedAt: now.Add(-2 * time.Hour), LastSeenAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour),
					IP: netip.MustParseAddr("192.0.2.1")}
				if i >= stale {
					s.LastSeenAt, s.ExpiresAt = now, now.Add(-time.Minute)
				}
				if !yield(s) {
					return
				}
			}
		}
		noUsers := func(func(*sm.User) bool) {}
		if err := e.store.(sm.BulkLoader).BulkLoad(e.ctx, noUsers, sessions); err != nil {
			t.Fatal(err)
		}
		n, err := e.m.Sweep(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The registered session (last seen now) stays active.
		if n != stale+expired {
			t.Fatalf("one sweep changed %d sessions, want %d", n, stale+expired)
		}
		inactive, ended := 0, 0
		for i := range stale + expired {
			s, err := e.store.SessionByID(e.ctx, fmt.Sprintf("backlog-%05d", i))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case i < stale && s.Status == sm.StatusInactive:
				inactive++
			case i >= stale && s.Status == sm.StatusEnded && s.EndReason == sm.EndExpired:
				ended++
			}
		}
		if inactive != stale || ended != expired {
			t.Fatalf("after one sweep: %d of %d stale sessions inactive, %d of %d expired ended", inactive, stale, ended, expired)
		}
		if err := e.m.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{stale, stale + sm.SweepBatch - 1, stale + sm.SweepBatch, stale + expired - 1} {
			sid := fmt.Sprintf("backlog-%05d", i)
			evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventSessionEnded}, SessionID: sid, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("%s: %d session.ended events, want 1", sid, len(evs))
			}
		}
	})
}
