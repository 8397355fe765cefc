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
func (downCounter) Decr(context.Context, string) error                         { return errDown }
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
