package sessionmanager_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/dpoptest"
)

const (
	loginURL   = "https://auth.example.com/api/auth/local"
	refreshURL = "https://auth.example.com/api/auth/refresh"
	apiURL     = "https://api.example.com/orders"
)

// withProof is client with a DPoP proof for its request.
func withProof(c sm.ClientInfo, proof, method, url string) sm.ClientInfo {
	c.DPoP = sm.ProofInput{Proof: proof, Method: method, URL: url}
	return c
}

// boundLogin registers name and signs in with a proof by key.
func boundLogin(t *testing.T, e *env, name string, key *dpoptest.Key) *sm.LoginResult {
	t.Helper()
	e.register(name)
	res, err := e.m.Login(e.ctx, name, "a long enough password", withProof(client, key.Proof("POST", loginURL, "", e.clock.Now()), "POST", loginURL))
	if err != nil {
		t.Fatalf("bound login: %v", err)
	}
	return res
}

func wantProofRefused(t *testing.T, err error, what string) {
	t.Helper()
	if sm.ErrorCode(err) != sm.EUNAUTHORIZED || reasonOf(t, err) != sm.ReasonInvalidDPoPProof {
		t.Fatalf("%s: got %v, want 401 %s", what, err, sm.ReasonInvalidDPoPProof)
	}
}

// TestDPoPBindsSessionAndTokens: a sign-in with a proof opens a session
// bound to the proof's key; its access token carries cnf.jkt and is good
// only with a fresh proof by that key for the request, once.
func TestDPoPBindsSessionAndTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		key := dpoptest.NewKey(t, "ES256")
		res := boundLogin(t, e, "alice", key)
		if res.Claims.JKT != key.JKT {
			t.Fatalf("access token cnf.jkt = %q, want the key's thumbprint %q", res.Claims.JKT, key.JKT)
		}
		s, err := e.m.Session(e.ctx, res.Session.ID)
		if err != nil || s.DPoPJKT != key.JKT {
			t.Fatalf("stored session binding = %q (%v), want %q", s.DPoPJKT, err, key.JKT)
		}
		if c, err := e.keys.Verify(res.AccessToken, e.clock.Now()); err != nil || c.JKT != key.JKT {
			t.Fatalf("verified token's jkt = %q (%v)", c.JKT, err)
		}
		now := e.clock.Now()
		tok := res.AccessToken
		good := key.Proof("GET", apiURL, tok, now)
		if _, err := e.m.AuthenticateRequest(e.ctx, tok, withProof(client, good, "GET", apiURL)); err != nil {
			t.Fatalf("a good proof: %v", err)
		}
		other := dpoptest.NewKey(t, "ES256")
		for _, c := range []struct {
			what   string
			client sm.ClientInfo
		}{
			{"no proof", client},
			{"replayed proof (same jti)", withProof(client, good, "GET", apiURL)},
			{"another key's proof", withProof(client, other.Proof("GET", apiURL, tok, now), "GET", apiURL)},
			{"a proof for another URL", withProof(client, key.Proof("GET", "https://api.example.com/admin", tok, now), "GET", apiURL)},
			{"a proof for another method", withProof(client, key.Proof("POST", apiURL, tok, now), "GET", apiURL)},
			{"a proof for another token (ath)", withProof(client, key.Proof("GET", apiURL, "another token", now), "GET", apiURL)},
			{"a proof without ath", withProof(client, key.Proof("GET", apiURL, "", now), "GET", apiURL)},
			{"a proof from two minutes ago", withProof(client, key.Proof("GET", apiURL, tok, now.Add(-2*time.Minute)), "GET", apiURL)},
			{"a proof from the future", withProof(client, key.Proof("GET", apiURL, tok, now.Add(2*time.Minute)), "GET", apiURL)},
			{"a malformed proof", withProof(client, "not.a.jwt", "GET", apiURL)},
			{"a proof of the wrong typ", withProof(client, key.Sign(dpoptest.Claims{HTM: "GET", HTU: apiURL, IAT: now.Unix(), ATH: dpoptest.ATH(tok)}, "JWT"), "GET", apiURL)},
		} {
			_, err := e.m.AuthenticateRequest(e.ctx, tok, c.client)
			wantProofRefused(t, err, c.what)
		}
		// Authenticate knows no request: a bound token is refused.
		_, err = e.m.Authenticate(e.ctx, tok)
		wantProofRefused(t, err, "Authenticate without a client")
		// Check leaves the proof to its caller and says which key.
		p, err := e.m.Check(e.ctx, tok)
		if err != nil || p.Claims.JKT != key.JKT {
			t.Fatalf("Check: %v, jkt %q", err, p.Claims.JKT)
		}
		// The URL compares as RFC 9449 §4.3 says: case of scheme and
		// host, default port, query ignored.
		loose := key.Proof("GET", "HTTPS://API.example.com:443/orders?page=2", tok, now)
		if _, err := e.m.AuthenticateRequest(e.ctx, tok, withProof(client, loose, "GET", apiURL)); err != nil {
			t.Fatalf("an equivalent htu: %v", err)
		}
	})
}

// TestDPoPRefreshNeedsTheKey: a bound session refreshes only with a proof
// by its key; the new tokens stay bound. A thief with the refresh token and
// no key gets nothing, and the session is not ended by the attempt.
func TestDPoPRefreshNeedsTheKey(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		key := dpoptest.NewKey(t, "EdDSA")
		res := boundLogin(t, e, "bob", key)
		now := e.clock.Now()
		_, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
		wantProofRefused(t, err, "refresh without a proof")
		thief := dpoptest.NewKey(t, "EdDSA")
		_, err = e.m.Refresh(e.ctx, res.RefreshToken, withProof(client, thief.Proof("POST", refreshURL, "", now), "POST", refreshURL))
		wantProofRefused(t, err, "refresh with another key")
		next, err := e.m.Refresh(e.ctx, res.RefreshToken, withProof(client, key.Proof("POST", refreshURL, "", now), "POST", refreshURL))
		if err != nil {
			t.Fatalf("refresh with the key: %v", err)
		}
		if next.Claims.JKT != key.JKT {
			t.Fatalf("refreshed token jkt %q, want %q", next.Claims.JKT, key.JKT)
		}
	})
}

// TestDPoPLoginProofChecked: a sign-in's proof must be good (for the
// sign-in request, fresh) or the sign-in fails without a session; a
// bearer client is untouched.
func TestDPoPLoginProofChecked(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		key := dpoptest.NewKey(t, "ES256")
		e.register("carol")
		bad := withProof(client, key.Proof("POST", "https://evil.example/api/auth/local", "", e.clock.Now()), "POST", loginURL)
		_, err := e.m.Login(e.ctx, "carol", "a long enough password", bad)
		wantProofRefused(t, err, "a sign-in proof for another URL")
		page, err := e.store.ListSessions(e.ctx, sm.SessionFilter{Status: []sm.Status{sm.StatusActive}})
		if err != nil || len(page.Sessions) != 1 { // the registration's own
			t.Fatalf("sessions after the refused sign-in: %d (%v), want 1", len(page.Sessions), err)
		}
		bearer := e.login("carol")
		if bearer.Claims.JKT != "" || bearer.Session.DPoPJKT != "" {
			t.Fatalf("a sign-in without a proof is bound: %q", bearer.Claims.JKT)
		}
		if _, err := e.m.Authenticate(e.ctx, bearer.AccessToken); err != nil {
			t.Fatalf("bearer token: %v", err)
		}
		if _, err := e.m.Refresh(e.ctx, bearer.RefreshToken, client); err != nil {
			t.Fatalf("bearer refresh: %v", err)
		}
	})
}

// TestDPoPReplayRefusedOnAnotherInstance: two instances on one database
// share Redis as their counter: a proof used on A is refused on B.
func TestDPoPReplayRefusedOnAnotherInstance(t *testing.T) {
	ctx := context.Background()
	a, b := twoInstances(t)
	key := dpoptest.NewKey(t, "ES256")
	res := boundLogin(t, a, "dave", key)
	proof := withProof(client, key.Proof("GET", apiURL, res.AccessToken, a.clock.Now()), "GET", apiURL)
	if _, err := a.m.AuthenticateRequest(ctx, res.AccessToken, proof); err != nil {
		t.Fatalf("A: %v", err)
	}
	_, err := b.AuthenticateRequest(ctx, res.AccessToken, proof)
	wantProofRefused(t, err, "B: the proof A accepted")
	fresh := withProof(client, key.Proof("GET", apiURL, res.AccessToken, a.clock.Now()), "GET", apiURL)
	if _, err := b.AuthenticateRequest(ctx, res.AccessToken, fresh); err != nil {
		t.Fatalf("B: a fresh proof: %v", err)
	}
}

func TestSameProofURL(t *testing.T) {
	for _, c := range []struct {
		htu, req string
		same     bool
	}{
		{"https://a.example/x", "https://a.example/x", true},
		{"HTTPS://A.EXAMPLE/x", "https://a.example/x", true},
		{"https://a.example:443/x", "https://a.example/x", true},
		{"http://a.example:80/x", "http://a.example/x", true},
		{"https://a.example", "https://a.example/", true},
		{"https://a.example/x?q=1#f", "https://a.example/x", true},
		{"https://a.example/X", "https://a.example/x", false},
		{"http://a.example/x", "https://a.example/x", false},
		{"https://a.example:8443/x", "https://a.example/x", false},
		{"https://b.example/x", "https://a.example/x", false},
		{"/x", "https://a.example/x", false},
		{"ftp://a.example/x", "ftp://a.example/x", false},
		{"https://user@a.example/x", "https://a.example/x", false},
		{"", "", false},
	} {
		if got := sm.SameProofURL(c.htu, c.req); got != c.same {
			t.Errorf("SameProofURL(%q, %q) = %v, want %v", c.htu, c.req, got, c.same)
		}
	}
}

// TestDPoPLibraryMiddleware: the net/http middleware checks a bound
// token's proof against the request it serves, with RFC 9449's challenge.
func TestDPoPLibraryMiddleware(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		key := dpoptest.NewKey(t, "ES256")
		res := boundLogin(t, e, "mia", key)
		h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		serve := func(proof string) *httptest.ResponseRecorder {
			req := httptest.NewRequest("GET", "http://app.example.com/orders?page=1", nil)
			req.Header.Set("Authorization", "DPoP "+res.AccessToken)
			if proof != "" {
				req.Header.Set("DPoP", proof)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		good := key.Proof("GET", "http://app.example.com/orders", res.AccessToken, e.clock.Now())
		if w := serve(good); w.Code != 204 {
			t.Fatalf("a good proof: %d %s", w.Code, w.Body)
		}
		for what, proof := range map[string]string{"no proof": "", "a replayed proof": good,
			"another URL": key.Proof("GET", "http://app.example.com/admin", res.AccessToken, e.clock.Now())} {
			w := serve(proof)
			if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
				t.Fatalf("%s: %d %q", what, w.Code, w.Header().Get("WWW-Authenticate"))
			}
		}
	})
}

// serveMiddleware runs one GET of the library middleware with the given
// Authorization and DPoP header values.
func serveMiddleware(e *env, auth string, proofs ...string) *httptest.ResponseRecorder {
	h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	req := httptest.NewRequest("GET", "http://app.example.com/orders", nil)
	req.Header.Set("Authorization", auth)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestDPoPSeveralHeadersRefused: RFC 9449 §4.3 check 1, exactly one DPoP
// header: two headers, or one holding a list, are refused even when one of
// the proofs is good.
func TestDPoPSeveralHeadersRefused(t *testing.T) {
	e := newEnv(t, storeKinds[0])
	key := dpoptest.NewKey(t, "ES256")
	res := boundLogin(t, e, "ned", key)
	proof := func() string {
		return key.Proof("GET", "http://app.example.com/orders", res.AccessToken, e.clock.Now())
	}
	for what, hs := range map[string][]string{
		"two headers":  {proof(), proof()},
		"a list value": {proof() + ", " + proof()},
	} {
		w := serveMiddleware(e, "DPoP "+res.AccessToken, hs...)
		if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
			t.Fatalf("%s: %d %q", what, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if w := serveMiddleware(e, "DPoP "+res.AccessToken, proof()); w.Code != 204 {
		t.Fatalf("one good proof: %d %s", w.Code, w.Body)
	}
}

// TestDPoPSchemeEnforced: RFC 9449 §7.1/§7.2: a bound token under
// "Bearer" is refused even with a good proof, and an unbound token under
// "DPoP" is refused.
func TestDPoPSchemeEnforced(t *testing.T) {
	e := newEnv(t, storeKinds[0])
	key := dpoptest.NewKey(t, "ES256")
	bound := boundLogin(t, e, "olga", key)
	w := serveMiddleware(e, "Bearer "+bound.AccessToken, key.Proof("GET", "http://app.example.com/orders", bound.AccessToken, e.clock.Now()))
	if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("bound token under Bearer: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	e.register("paul")
	plain, err := e.m.Login(e.ctx, "paul", "a long enough password", client)
	if err != nil {
		t.Fatal(err)
	}
	if w := serveMiddleware(e, "DPoP "+plain.AccessToken); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("unbound token under DPoP: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := serveMiddleware(e, "Bearer "+plain.AccessToken); w.Code != 204 {
		t.Fatalf("unbound token under Bearer: %d %s", w.Code, w.Body)
	}
}

// downCounter is a Counter whose backend is unreachable.
type downCounter struct{}

var errDown = errors.New("connection refused")

func (downCounter) Incr(context.Context, string, time.Duration) (int64, error) { return 0, errDown }
func (downCounter) Get(context.Context, string) (int64, error)                 { return 0, errDown }
func (downCounter) Decr(context.Context, string, time.Duration) error          { return errDown }
func (downCounter) Reset(context.Context, string) error                        { return errDown }

// TestDPoPReplayStoreFailsClosed: when the replay store cannot spend a jti
// the proof is refused with 503, never accepted unchecked.
func TestDPoPReplayStoreFailsClosed(t *testing.T) {
	e := newEnv(t, storeKinds[0])
	key := dpoptest.NewKey(t, "ES256")
	res := boundLogin(t, e, "quinn", key)
	d := startManager(t, sm.Config{Store: e.store, Tokens: e.keys, Secrets: e.secrets, Passwords: cheapPasswords,
		Clock: e.clock, InstanceID: "down", Replay: downCounter{}}, nil)
	_, err := d.AuthenticateRequest(e.ctx, res.AccessToken, withProof(client, key.Proof("GET", apiURL, res.AccessToken, e.clock.Now()), "GET", apiURL))
	if sm.ErrorCode(err) != sm.EUNAVAILABLE {
		t.Fatalf("replay store down: got %v, want 503", err)
	}
}

// TestDPoPJTIsKeepOutOfFailures: spending jtis never touches the Failures
// counter (whose entries are login-failure counts and used TOTP codes).
func TestDPoPJTIsKeepOutOfFailures(t *testing.T) {
	fails := sm.NewMemoryCounter(nil)
	e := newEnv(t, storeKinds[0], func(c *sm.Config) { c.Failures = fails })
	key := dpoptest.NewKey(t, "ES256")
	res := boundLogin(t, e, "rita", key)
	proof := key.Sign(dpoptest.Claims{JTI: "j1", HTM: "GET", HTU: apiURL, IAT: e.clock.Now().Unix(), ATH: dpoptest.ATH(res.AccessToken)}, "dpop+jwt")
	if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, withProof(client, proof, "GET", apiURL)); err != nil {
		t.Fatal(err)
	}
	if n, _ := fails.Get(e.ctx, "dpop:"+key.JKT+":j1"); n != 0 {
		t.Fatalf("the jti was spent in Failures (%d)", n)
	}
	_, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, withProof(client, proof, "GET", apiURL))
	wantProofRefused(t, err, "the replayed proof")
}
