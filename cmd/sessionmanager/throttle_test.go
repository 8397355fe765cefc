package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// burstBackends runs fn on the real server over SQLite, over PostgreSQL,
// and as two instances on PostgreSQL sharing Redis (the burst is spread
// over both, so the limits must hold across instances). The servers run on
// a manual clock that passes the login delays (up to MaxDelay) of the
// attempts held on it, instead of the test waiting for them.
func burstBackends(t *testing.T, fn func(t *testing.T, nodes []*server)) {
	step := max(sm.DefaultThrottleLimits.MaxDelay, sm.AdminThrottleLimits.MaxDelay)
	trusted := func(env map[string]string) map[string]string {
		env["SM_TRUSTED_PROXIES"] = "127.0.0.1"
		env["SM_LOG_LEVEL"] = "error"
		return env
	}
	t.Run("sqlite", func(t *testing.T) {
		fn(t, []*server{startServerOn(t, trusted(map[string]string{}), driveClock(t, step))})
	})
	t.Run("postgres", func(t *testing.T) { fn(t, []*server{startServerOn(t, trusted(postgresEnv(t)), driveClock(t, step))}) })
	t.Run("postgres+redis", func(t *testing.T) {
		db, key, redisURL := testenv.PostgresSchema(t), token.GenerateKey(), testenv.RedisURL(t)
		prefix := testenv.Name("msmthrottle:") + ":"
		var nodes []*server
		d := driveClock(t, step)
		for range 2 {
			nodes = append(nodes, startServerOn(t, trusted(map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": key, "REDIS_URL": redisURL, "SM_REDIS_PREFIX": prefix}), d))
		}
		fn(t, nodes)
	})
}

// burst sends n requests at once and counts the statuses; request i goes
// to nodes[i%len(nodes)].
func burst(t *testing.T, nodes []*server, n int, send func(s *server, i int) int) map[int]int {
	if d := nodes[0].driver; d != nil {
		d.expect(n)
	}
	return testenv.Burst(n, func(i int) int { return send(nodes[i%len(nodes)], i) })
}

// onlyCodes fails the test when an answer is not one of want.
func onlyCodes(t *testing.T, what string, codes map[int]int, want ...int) {
	t.Helper()
	for code, n := range codes {
		ok := false
		for _, w := range want {
			ok = ok || code == w
		}
		if !ok {
			t.Errorf("%s: %d answers with status %d (want only %v): %v", what, n, code, want, codes)
		}
	}
}

// TestBurstLoginOneAccount: 150 parallel wrong passwords from one address
// against one account check at most the account's allowance (5 free
// failures, then one attempt at a time per address); the rest are refused
// with 429 at once. The password checks are counted twice: the 400
// answers and the login.failed events. Then 40 wrong passwords from 40
// addresses, in parallel with the real user's login, never lock them out.
func TestBurstLoginOneAccount(t *testing.T) {
	burstBackends(t, func(t *testing.T, nodes []*server) {
		reg := nodes[0].send("198.51.100.1", "POST", "/api/auth/local/register", "", map[string]any{"username": "victim", "email": "victim@example.com", "password": "correct horse battery"}, nil)
		if reg.code != 200 {
			t.Fatalf("register: %d %v", reg.code, reg.body)
		}
		uid := str(reg.body["user"].(map[string]any), "id")
		codes := burst(t, nodes, 150, func(s *server, i int) int {
			return s.send("203.0.113.9", "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": fmt.Sprint("wrong guess ", i)}, nil).code
		})
		allowance := int(sm.DefaultThrottleLimits.AccountSlowAfter) + 5 // + the turns a burst spread over a few seconds can take
		t.Logf("150 parallel wrong passwords, one address, one account: %v (allowance %d)", codes, allowance)
		onlyCodes(t, "one-address burst", codes, 400, 429)
		if codes[400] > allowance || codes[400] < 1 {
			t.Errorf("%d passwords checked, want 1..%d", codes[400], allowance)
		}
		failed := nodes[0].listAll("/api/admin/audit?type=login.failed&user="+uid, nodes[0].adminToken("read"))
		if len(failed) != codes[400] {
			t.Errorf("%d login.failed events for %d answers 400", len(failed), codes[400])
		}

		// Many addresses against the account while the real user signs in.
		var real reply
		codes = burst(t, nodes, 41, func(s *server, i int) int {
			if i == 40 {
				real = s.send("198.51.100.1", "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": "correct horse battery"}, nil)
				return real.code
			}
			return s.send(fmt.Sprintf("192.0.2.%d", 10+i), "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": "wrong guess"}, nil).code
		})
		t.Logf("40 addresses x 1 wrong password + the real user: %v", codes)
		if real.code != 200 {
			t.Fatalf("the real user during a 40-address attack: %d %v", real.code, real.body)
		}
		if codes[400] != 40 {
			t.Errorf("guesses from 40 fresh addresses: %v, want 40 x 400 (each address has its own turn)", codes)
		}
	})
}

// dashboardSignIn posts the dashboard sign-in form from ip and returns the
// status (303 signed in, 401 wrong, 429 refused).
func dashboardSignIn(t *testing.T, s *server, ip, email, password string) int {
	defer s.busy()()
	form := url.Values{"email": {email}, "password": {password}}
	req, _ := http.NewRequest("POST", s.base+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Errorf("dashboard sign-in: %v", err)
		return 0
	}
	resp.Body.Close()
	if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	return resp.StatusCode
}

// TestBurstDashboardSignIn: 60 parallel dashboard sign-ins from one address
// check at most 10 passwords (the per-address limit, shared by every
// instance); IPv6 addresses count by /64 like the API; the admin account
// is limited per account too, yet the admin still signs in from elsewhere.
func TestBurstDashboardSignIn(t *testing.T) {
	burstBackends(t, func(t *testing.T, nodes []*server) {
		// Shared by every instance: 10 failures spread over the instances
		// (other names, so only the address counts) refuse the 11th on each.
		for i := range 10 {
			if code := dashboardSignIn(t, nodes[i%len(nodes)], "198.51.100.200", fmt.Sprintf("someone%d@example.com", i), "wrong"); code != 401 {
				t.Fatalf("failure %d: %d, want 401", i+1, code)
			}
		}
		for _, s := range nodes {
			if code := dashboardSignIn(t, s, "198.51.100.200", "admin@localhost", "admin password for tests"); code != 429 {
				t.Errorf("11th sign-in from an address with 10 failures on the instances: %d, want 429", code)
			}
		}

		codes := burst(t, nodes, 60, func(s *server, i int) int {
			return dashboardSignIn(t, s, "203.0.113.10", "admin@localhost", fmt.Sprint("wrong ", i))
		})
		t.Logf("60 parallel dashboard sign-ins, one address: %v", codes)
		onlyCodes(t, "dashboard burst", codes, 401, 429)
		if codes[401] > int(sm.AdminThrottleLimits.IPRefuseAfter) || codes[401] < 1 {
			t.Errorf("%d dashboard passwords checked, want 1..%d", codes[401], sm.AdminThrottleLimits.IPRefuseAfter)
		}
		// The refused address is refused even with the right password, on
		// every instance.
		for _, s := range nodes {
			if code := dashboardSignIn(t, s, "203.0.113.10", "admin@localhost", "admin password for tests"); code != 429 {
				t.Errorf("refused address with the right password: %d, want 429", code)
			}
		}

		// IPv6: one /64 is one address; other admins' names spread the
		// guesses so only the address limit applies.
		codes = burst(t, nodes, 12, func(s *server, i int) int {
			return dashboardSignIn(t, s, fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("nobody%d@example.com", i), "wrong")
		})
		t.Logf("12 sign-ins from 12 addresses of one /64: %v", codes)
		if codes[401] > int(sm.AdminThrottleLimits.IPRefuseAfter) || codes[429] == 0 {
			t.Errorf("12 sign-ins from one /64 were not limited as one address: %v", codes)
		}
		if code := dashboardSignIn(t, nodes[len(nodes)-1], "2001:db8:1:2:ffff::1", "admin@localhost", "admin password for tests"); code != 429 {
			t.Errorf("another address of the refused /64: %d, want 429", code)
		}
		// The admin from another address: slowed (the account failed), not locked out.
		if code := dashboardSignIn(t, nodes[0], "2001:db8:1:3::1", "admin@localhost", "admin password for tests"); code != 303 {
			t.Errorf("the admin from a clean address after the bursts: %d, want 303", code)
		}
	})
}

// TestBurstMagicLinkVerify: 150 parallel verifications of made-up links
// from one address are counted before the link is looked up, against the
// same per-address limits as passwords: most are refused, none is a 5xx.
func TestBurstMagicLinkVerify(t *testing.T) {
	s, _ := startMagicServer(t, map[string]string{"SM_TRUSTED_PROXIES": "127.0.0.1", "SM_LOG_LEVEL": "error"})
	codes := burst(t, []*server{s}, 150, func(s *server, i int) int {
		return s.send("203.0.113.11", "POST", "/api/auth/magic-link/verify", "", map[string]any{"token": fmt.Sprintf("made-up-token-%040d", i)}, nil).code
	})
	limit := int(sm.DefaultThrottleLimits.IPSlowAfter) + 10 // + the turns a burst spread over a few seconds can take
	t.Logf("150 parallel made-up links, one address: %v (limit %d)", codes, limit)
	onlyCodes(t, "magic-link burst", codes, 400, 429)
	if codes[400] > limit || codes[400] < 1 {
		t.Errorf("%d links looked up, want 1..%d", codes[400], limit)
	}
}

// TestBlockedAccountAnswersLikeActive: over HTTP, a wrong password on a
// blocked account gets byte for byte the answer of a wrong password on an
// active one (and both verify the hash: a login.failed event each); only
// the right password hears 403 user_blocked (docs/SECURITY.md).
func TestBlockedAccountAnswersLikeActive(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		s.register(t, "activeone")
		uid := idOf(s.register(t, "blockedone"), "user")
		write := s.adminToken("write")
		if code, _, body := s.call("POST", "/api/admin/users/"+uid+"/block", write, nil); code != 200 {
			t.Fatalf("block: %d %v", code, body)
		}
		codeA, _, bodyA := s.raw("POST", "/api/auth/local", "", "x", map[string]any{"identifier": "activeone", "password": "wrong guess"})
		codeB, _, bodyB := s.raw("POST", "/api/auth/local", "", "x", map[string]any{"identifier": "blockedone", "password": "wrong guess"})
		if codeA != 400 || codeA != codeB || string(bodyA) != string(bodyB) {
			t.Fatalf("wrong password: active %d %s, blocked %d %s", codeA, bodyA, codeB, bodyB)
		}
		if evs := s.listAll("/api/admin/audit?type=login.failed", write); len(evs) != 2 {
			t.Errorf("%d login.failed events for the two wrong passwords, want 2", len(evs))
		}
		code, _, body := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "blockedone", "password": "correct horse battery"})
		if code != 403 || errReason(body) != "user_blocked" {
			t.Errorf("right password on the blocked account: %d %v", code, body)
		}
	})
}
