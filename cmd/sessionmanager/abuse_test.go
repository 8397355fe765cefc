package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// reply is one HTTP answer of the abuse tests.
type reply struct {
	code   int
	header http.Header
	body   map[string]any
}

// send makes one request from ip (through the trusted loopback proxy when
// ip is set) with extra headers; transport errors fail the test.
func (s *server) send(ip, method, path, bearer string, body any, hdr map[string]string) reply {
	s.t.Helper()
	defer s.busy()()
	var rd io.Reader
	if body != nil {
		if b, ok := body.(string); ok {
			rd = strings.NewReader(b)
		} else {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Errorf("%s %s: %v", method, path, err)
		return reply{}
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return reply{resp.StatusCode, resp.Header, out}
}

// TestAbuseLoginFloods: one address guessing (many accounts) is slowed,
// then refused with 429 and a Retry-After; many addresses guessing one
// account slow it down but never lock the real user out: the right password
// from a clean address still signs in. No attempt gets a 5xx.
func TestAbuseLoginFloods(t *testing.T) {
	// On a manual clock that passes the login delays of held attempts.
	s := startServerOn(t, map[string]string{"SM_TRUSTED_PROXIES": "127.0.0.1"}, driveClock(t, sm.DefaultThrottleLimits.MaxDelay))
	if r := s.send("198.51.100.1", "POST", "/api/auth/local/register", "", map[string]any{"username": "victim", "email": "victim@example.com", "password": "correct horse battery"}, nil); r.code != 200 {
		t.Fatalf("register: %d %v", r.code, r.body)
	}

	// One address, many guesses: 429 with Retry-After before 300 attempts.
	const attacker = "203.0.113.66"
	var attempts, refused, slowOrFail, server5xx atomic.Int64
	var retryAfter atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 40; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for refused.Load() == 0 {
				// Each guess names its own account (the number this worker
				// took): the per-address limit is what this part tests, not
				// one account's turn.
				n := attempts.Add(1)
				if n > 300 {
					break
				}
				r := s.send(attacker, "POST", "/api/auth/local", "", map[string]any{"identifier": fmt.Sprintf("guess%d", n), "password": "wrong"}, nil)
				switch {
				case r.code == 429:
					refused.Add(1)
					retryAfter.Store(r.header.Get("Retry-After"))
				case r.code >= 500:
					server5xx.Add(1)
				default:
					slowOrFail.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("one-address flood: %d attempts, %d answered 400/401, %d refused 429", min(attempts.Load(), 300), slowOrFail.Load(), refused.Load())
	if refused.Load() == 0 {
		t.Fatal("300 failed logins from one address were never refused")
	}
	if ra, _ := retryAfter.Load().(string); ra == "" {
		t.Error("429 without Retry-After")
	} else if n, err := strconv.Atoi(ra); err != nil || n < 1 {
		t.Errorf("Retry-After %q", ra)
	}
	if server5xx.Load() > 0 {
		t.Errorf("%d attempts got a 5xx", server5xx.Load())
	}
	// The refused address is refused even with the right password...
	if r := s.send(attacker, "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": "correct horse battery"}, nil); r.code != 429 || errReason(r.body) != "too_many_attempts" {
		t.Errorf("refused address with the right password: %d %v", r.code, r.body)
	}
	// ...but the real user from their own address is not.
	if r := s.send("198.51.100.1", "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": "correct horse battery"}, nil); r.code != 200 {
		t.Errorf("victim from a clean address after the flood: %d %v", r.code, r.body)
	}

	// Many addresses, one account: slowed, never refused, never locked.
	var codes sync.Map
	wg = sync.WaitGroup{}
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				r := s.send(fmt.Sprintf("192.0.2.%d", 1+w*2+i), "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": "wrong guess"}, nil)
				n, _ := codes.LoadOrStore(r.code, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}()
	}
	wg.Wait()
	codes.Range(func(k, v any) bool {
		t.Logf("many-address flood on one account: %d x %d", v.(*atomic.Int64).Load(), k)
		if k.(int) != 400 && k.(int) != 401 {
			t.Errorf("a guess on one account got %d (accounts are slowed, never refused)", k)
		}
		return true
	})
	if r := s.send("198.51.100.77", "POST", "/api/auth/local", "", map[string]any{"identifier": "victim", "password": "correct horse battery"}, nil); r.code != 200 {
		t.Fatalf("the real user from a new clean address after 40 guesses: %d %v", r.code, r.body)
	}
}

// TestAbuseRefreshStorm: many concurrent refreshes of one refresh token
// rotate it once; every caller gets the same new pair (the retry grace),
// nobody gets a 5xx and the session stays alive.
func TestAbuseRefreshStorm(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		r := s.send("", "POST", "/api/auth/local/register", "", map[string]any{"username": "storm", "email": "storm@example.com", "password": "correct horse battery"}, nil)
		refresh := str(r.body, "refreshToken")
		const n = 30
		results := make([]reply, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.send("", "POST", "/api/auth/refresh", "", map[string]any{"refreshToken": refresh}, nil)
			}()
		}
		wg.Wait()
		next := map[string]int{}
		for _, x := range results {
			if x.code != 200 {
				t.Errorf("concurrent refresh: %d %v", x.code, x.body)
				continue
			}
			next[str(x.body, "refreshToken")]++
		}
		if len(next) != 1 {
			t.Fatalf("%d concurrent refreshes rotated to %d different tokens: %v", n, len(next), next)
		}
		for tok := range next {
			if x := s.send("", "POST", "/api/auth/refresh", "", map[string]any{"refreshToken": tok}, nil); x.code != 200 {
				t.Errorf("the one rotated token does not refresh: %d %v", x.code, x.body)
			}
		}
	})
}

// TestAbuseOversizedInput: headers over 32 KiB get 431; bodies over 1 MiB
// get 400 body_too_large; neither reaches a handler's logic.
func TestAbuseOversizedInput(t *testing.T) {
	s := startServer(t, nil)
	r := s.send("", "GET", "/api/users/me", "", nil, map[string]string{"X-Big": strings.Repeat("a", 64<<10)})
	if r.code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: %d, want 431", r.code)
	}
	r = s.send("", "GET", "/api/users/me", "", nil, map[string]string{"Cookie": "msm_session=" + strings.Repeat("b", 40<<10)})
	if r.code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("40 KiB cookie: %d, want 431", r.code)
	}
	for _, path := range []string{"/api/auth/local", "/api/auth/local/register", "/api/auth/refresh"} {
		big := `{"identifier":"` + strings.Repeat("a", (1<<20)+10) + `"}`
		r = s.send("", "POST", path, "", big, nil)
		if r.code != 400 || errReason(r.body) != "body_too_large" {
			t.Errorf("%s with a body over 1 MiB: %d %v", path, r.code, errReason(r.body))
		}
	}
	// A body just under the cap is read (and refused for its content, not its size).
	r = s.send("", "POST", "/api/auth/local", "", `{"identifier":"`+strings.Repeat("a", (1<<20)-100)+`","password":"x"}`, nil)
	if r.code >= 500 || errReason(r.body) == "body_too_large" {
		t.Errorf("a body under 1 MiB: %d %v", r.code, errReason(r.body))
	}
}

// TestAbuseSlowHeaders: a client that trickles its request headers (one
// line a second, slowloris) is cut off by ReadHeaderTimeout; the test gives
// up (fails) only if the connection is still open after 30 s.
func TestAbuseSlowHeaders(t *testing.T) {
	s := startServer(t, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := bufio.NewReader(conn).ReadString('\n')
		closed <- err
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case err := <-closed:
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("a client trickling headers kept its connection for 30 s")
			}
			t.Logf("slow client cut off after %d header lines (%v)", i, err)
			// The server still serves everyone else.
			if code, _, _ := s.call("GET", "/healthz", "", nil); code != 200 {
				t.Errorf("healthz after the slow client: %d", code)
			}
			return
		case <-tick.C:
			_, _ = fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i)
		}
	}
}

// TestAbuseSSEFlood: the revocation feed holds at most its bound of
// concurrent streams; one more gets 503 with Retry-After, and a stream is
// free again once a client leaves.
func TestAbuseSSEFlood(t *testing.T) {
	s := startServer(t, nil)
	svc := s.adminToken("service")
	const bound = 256 // httpapi.revocationMaxClients
	var bodies []io.Closer
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: bound + 2}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	open := func() *http.Response {
		req, _ := http.NewRequest("GET", s.base+"/api/auth/revocations", nil)
		req.Header.Set("Authorization", "Bearer "+svc)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := 0; i < bound; i++ {
		resp := open()
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
		bodies = append(bodies, resp.Body)
	}
	extra := open()
	extra.Body.Close()
	if extra.StatusCode != 503 || extra.Header.Get("Retry-After") == "" {
		t.Fatalf("stream %d over the bound: %d Retry-After %q", bound+1, extra.StatusCode, extra.Header.Get("Retry-After"))
	}
	bodies[0].Close()
	bodies = bodies[1:]
	// The server notices the closed stream on its next write or poll.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := open()
		if resp.StatusCode == 200 {
			bodies = append(bodies, resp.Body)
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("a freed stream slot never came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Ordinary requests are unaffected by the held streams.
	if code, _, _ := s.call("GET", "/healthz", "", nil); code != 200 {
		t.Errorf("healthz during the flood: %d", code)
	}
}

// TestAbuseAdminAuth: every admin route refuses no token, a forged token and
// a user's access token with 401, and a token of the wrong scope with 403
// (read on write and service routes, service on read and write routes).
func TestAbuseAdminAuth(t *testing.T) {
	s := startServer(t, nil)
	reg := s.send("", "POST", "/api/auth/local/register", "", map[string]any{"username": "ursula", "email": "ursula@example.com", "password": "correct horse battery"}, nil)
	userJWT := str(reg.body, "jwt")
	read, write, svc := s.adminToken("read"), s.adminToken("write"), s.adminToken("service")
	routes := []struct{ method, path, scope string }{
		{"GET", "/api/admin/sessions", "read"}, {"GET", "/api/admin/sessions/x", "read"},
		{"POST", "/api/admin/sessions/x/terminate", "write"}, {"DELETE", "/api/admin/sessions/x", "write"},
		{"POST", "/api/admin/sessions/clean", "write"}, {"GET", "/api/admin/users", "read"}, {"GET", "/api/admin/users/x", "read"},
		{"GET", "/api/admin/users/x/sessions", "read"}, {"POST", "/api/admin/users/x/terminate-all", "write"},
		{"POST", "/api/admin/users/x/block", "write"}, {"POST", "/api/admin/users/x/unblock", "write"},
		{"GET", "/api/admin/stats", "read"}, {"GET", "/api/admin/settings", "read"}, {"PUT", "/api/admin/settings", "write"},
		{"GET", "/api/admin/geo/status", "read"}, {"GET", "/api/admin/geo/x", "read"},
		{"GET", "/api/admin/audit", "read"}, {"GET", "/api/admin/export/sessions", "read"}, {"GET", "/api/admin/export/audit", "read"},
		{"GET", "/api/admin/users/x/export", "read"}, {"DELETE", "/api/admin/users/x/personal-data", "write"},
		{"GET", "/api/admin/tokens", "read"}, {"POST", "/api/admin/tokens", "write"}, {"DELETE", "/api/admin/tokens/x", "write"},
		{"GET", "/api/admin/license", "read"}, {"PUT", "/api/admin/license", "write"},
		{"GET", "/api/admin/alerts/rules", "read"}, {"POST", "/api/admin/alerts/rules", "write"},
		{"POST", "/api/sessions", "service"}, {"POST", "/api/auth/introspect", "service"}, {"GET", "/api/auth/revocations", "service"},
	}
	// Scopes (sm.ScopeAllows): write includes read and service; read and
	// service are disjoint.
	wrong := map[string][]string{"read": {svc}, "write": {read, svc}, "service": {read}}
	for _, rt := range routes {
		for name, tok := range map[string]string{"none": "", "forged": "msm_" + strings.Repeat("A", 43), "user JWT": userJWT, "garbage": "x y z"} {
			if r := s.send("", rt.method, rt.path, tok, "{}", nil); r.code != 401 {
				t.Errorf("%s %s with %s token: %d, want 401", rt.method, rt.path, name, r.code)
			}
		}
		for _, tok := range wrong[rt.scope] {
			if r := s.send("", rt.method, rt.path, tok, "{}", nil); r.code != 403 {
				t.Errorf("%s %s with a token of the wrong scope: %d, want 403", rt.method, rt.path, r.code)
			}
		}
	}
	// The right token passes (the refusals above are not a broken route).
	if r := s.send("", "GET", "/api/admin/stats", write, nil, nil); r.code != 200 {
		t.Errorf("stats with a write token: %d", r.code)
	}
	t.Logf("%d admin routes x 4 bad credentials + wrong scopes refused", len(routes))
}

// TestAbuseCrossOrigin: no answer grants a foreign origin CORS access, a
// preflight from one is not approved, and a cross-site form post to the
// dashboard without its CSRF token is refused.
func TestAbuseCrossOrigin(t *testing.T) {
	s := startServer(t, nil)
	reg := s.send("", "POST", "/api/auth/local/register", "", map[string]any{"username": "cora", "email": "cora@example.com", "password": "correct horse battery"}, nil)
	jwt := str(reg.body, "jwt")
	evil := map[string]string{"Origin": "https://evil.example"}
	for _, c := range []struct{ method, path, bearer string }{
		{"GET", "/api/users/me", jwt}, {"GET", "/api/sessions/me", jwt}, {"POST", "/api/auth/local", ""},
		{"POST", "/api/auth/refresh", ""}, {"GET", "/api/auth/verify", jwt}, {"OPTIONS", "/api/auth/local", ""},
		{"OPTIONS", "/api/users/me", ""}, {"GET", "/.well-known/jwks.json", ""},
	} {
		hdr := map[string]string{"Origin": evil["Origin"], "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
		r := s.send("", c.method, c.path, c.bearer, nil, hdr)
		if acao := r.header.Get("Access-Control-Allow-Origin"); acao != "" {
			t.Errorf("%s %s from a foreign origin: Access-Control-Allow-Origin %q", c.method, c.path, acao)
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s %s: Access-Control-Allow-Credentials set", c.method, c.path)
		}
	}
	// Dashboard CSRF: a cross-site form post without the token.
	resp, err := http.Get(s.base + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 404 {
		t.Fatal("the dashboard is not served at /admin/")
	}
	req, _ := http.NewRequest("POST", s.base+"/admin/login", strings.NewReader("email=admin%40localhost&password=admin+password+for+tests"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("cross-site dashboard login post without a CSRF token: %d", resp.StatusCode)
	}
}

// TestAbuseTokenAnswersNotCached: every answer that carries a token or a
// session says Cache-Control: no-store, so no shared cache keeps it.
func TestAbuseTokenAnswersNotCached(t *testing.T) {
	s := startServer(t, nil)
	reg := s.send("", "POST", "/api/auth/local/register", "", map[string]any{"username": "nocache", "email": "nocache@example.com", "password": "correct horse battery"}, nil)
	login := s.send("", "POST", "/api/auth/local", "", map[string]any{"identifier": "nocache", "password": "correct horse battery"}, nil)
	ref := s.send("", "POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(login.body, "refreshToken")}, nil)
	me := s.send("", "GET", "/api/users/me", str(reg.body, "jwt"), nil, nil)
	mine := s.send("", "GET", "/api/sessions/me", str(reg.body, "jwt"), nil, nil)
	verify := s.send("", "GET", "/api/auth/verify", str(reg.body, "jwt"), nil, nil)
	for name, r := range map[string]reply{"register": reg, "login": login, "refresh": ref, "me": me, "sessions/me": mine, "verify": verify} {
		if r.code != 200 || !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
			t.Errorf("%s: %d Cache-Control %q", name, r.code, r.header.Get("Cache-Control"))
		}
	}
}
