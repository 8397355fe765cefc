package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/client"
	"github.com/magic-sessionmanager/sessionmanager/internal/dpoptest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// dpopCall makes a JSON request to base+path with an access token (sent
// with the DPoP scheme) and a DPoP proof header, each when not "".
func dpopCall(t *testing.T, method, base, path, token, proof string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	req := testenv.NewJSONRequest(t, method, base+path, body)
	if token != "" {
		req.Header.Set("Authorization", "DPoP "+token)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return testenv.DoJSON(t, req)
}

// wantDPoPRefused checks a 401 invalid_dpop_proof with RFC 9449's
// WWW-Authenticate challenge.
func wantDPoPRefused(t *testing.T, what string, code int, h http.Header, body map[string]any) {
	t.Helper()
	if code != 401 || errReason(body) != "invalid_dpop_proof" {
		t.Fatalf("%s: %d %v, want 401 invalid_dpop_proof", what, code, body)
	}
	if w := h.Get("WWW-Authenticate"); !strings.HasPrefix(w, `DPoP error="invalid_dpop_proof"`) || !strings.Contains(w, `algs="`) {
		t.Fatalf("%s: WWW-Authenticate %q", what, w)
	}
}

// dpopLogin registers name and signs in with a proof by key: the answer's
// jwt and refresh token.
func dpopLogin(t *testing.T, s *server, publicURL, name string, key *dpoptest.Key) (string, string) {
	t.Helper()
	s.register(t, name)
	proof := key.Proof("POST", publicURL+"/api/auth/local", "", time.Now())
	code, _, body := dpopCall(t, "POST", s.base, "/api/auth/local", "", proof, map[string]any{"identifier": name, "password": "correct horse battery"})
	if code != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("bound sign-in: %d %v", code, body)
	}
	return str(body, "jwt"), str(body, "refreshToken")
}

// TestDPoPThroughTheAPI drives the real server: a sign-in with a proof
// gets DPoP tokens; the user API, refresh and introspection need a proof
// by the key, for that request, once; a bearer client is unchanged.
func TestDPoPThroughTheAPI(t *testing.T) {
	const public = "https://auth.example.test"
	s := startServer(t, map[string]string{"SM_PUBLIC_URL": public})
	key := dpoptest.NewKey(t, "ES256")
	jwt, refresh := dpopLogin(t, s, public, "erin", key)

	me := public + "/api/users/me"
	proof := key.Proof("GET", me, jwt, time.Now())
	if code, _, body := dpopCall(t, "GET", s.base, "/api/users/me", jwt, proof, nil); code != 200 || body["username"] != "erin" {
		t.Fatalf("me with a proof: %d %v", code, body)
	}
	code, h, body := dpopCall(t, "GET", s.base, "/api/users/me", jwt, proof, nil)
	wantDPoPRefused(t, "a replayed proof", code, h, body)
	code, h, body = dpopCall(t, "GET", s.base, "/api/users/me", jwt, "", nil)
	wantDPoPRefused(t, "no proof", code, h, body)
	code, h, body = dpopCall(t, "GET", s.base, "/api/users/me", jwt, dpoptest.NewKey(t, "ES256").Proof("GET", me, jwt, time.Now()), nil)
	wantDPoPRefused(t, "another key", code, h, body)
	code, h, body = dpopCall(t, "GET", s.base, "/api/users/me", jwt, key.Proof("GET", s.base+"/api/users/me", jwt, time.Now()), nil)
	wantDPoPRefused(t, "a proof naming the internal URL, not the public one", code, h, body)
	code, h, body = dpopCall(t, "GET", s.base, "/api/users/me", jwt, key.Proof("DELETE", me, jwt, time.Now()), nil)
	wantDPoPRefused(t, "another method", code, h, body)
	code, h, body = dpopCall(t, "GET", s.base, "/api/users/me", jwt, strings.Repeat("x", 9000), nil)
	wantDPoPRefused(t, "a proof header too long", code, h, body)
	code, h, body = dpopCall(t, "GET", s.base, "/api/users/me", jwt, "e30.e30.e30", nil)
	wantDPoPRefused(t, "a malformed proof", code, h, body)

	// Refresh: a proof by the key, or nothing happens (and nothing ends).
	code, h, body = dpopCall(t, "POST", s.base, "/api/auth/refresh", "", "", map[string]any{"refreshToken": refresh})
	wantDPoPRefused(t, "refresh without a proof", code, h, body)
	code, _, body = dpopCall(t, "POST", s.base, "/api/auth/refresh", "", key.Proof("POST", public+"/api/auth/refresh", "", time.Now()), map[string]any{"refreshToken": refresh})
	if code != 200 || body["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %v", code, body)
	}
	jwt = str(body, "jwt")

	// Introspection: cnf.jkt for the resource server; a proof passed along
	// is checked here.
	service := s.adminToken("service")
	introspect := func(form url.Values) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", s.base+"/api/auth/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+service)
		code, _, out := testenv.DoJSON(t, req)
		if code != 200 {
			t.Fatalf("introspect: %d %v", code, out)
		}
		return out
	}
	out := introspect(url.Values{"token": {jwt}})
	if cnf, _ := out["cnf"].(map[string]any); out["active"] != true || cnf["jkt"] != key.JKT {
		t.Fatalf("introspection of a bound token: %v, want cnf.jkt %s", out, key.JKT)
	}
	rs := "https://api.example.test/orders"
	good := key.Proof("GET", rs, jwt, time.Now())
	if out := introspect(url.Values{"token": {jwt}, "dpop_proof": {good}, "htm": {"GET"}, "htu": {rs}}); out["active"] != true {
		t.Fatalf("introspection with a good proof: %v", out)
	}
	if out := introspect(url.Values{"token": {jwt}, "dpop_proof": {good}, "htm": {"GET"}, "htu": {rs}}); out["active"] != false || out["error"] != "invalid_dpop_proof" {
		t.Fatalf("introspection with a replayed proof: %v", out)
	}
	req, _ := http.NewRequest("POST", s.base+"/api/auth/introspect", strings.NewReader(url.Values{"token": {jwt}, "dpop_proof": {good}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+service)
	if code, _, out := testenv.DoJSON(t, req); code != 400 || fieldsOf(out)["htm"] == nil || fieldsOf(out)["htu"] == nil {
		t.Fatalf("a proof without htm and htu: %d %v, want 400 naming them", code, out)
	}

	// A bearer client: no token_type, no proof needed, as before.
	s.register(t, "frank")
	code, _, body = s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "frank", "password": "correct horse battery"})
	if code != 200 || body["token_type"] != nil {
		t.Fatalf("bearer sign-in: %d %v", code, body)
	}
	frank := str(body, "jwt")
	if code, _, body := s.call("GET", "/api/users/me", frank, nil); code != 200 {
		t.Fatalf("bearer me: %d %v", code, body)
	}

	// Forward auth holds the schemes too (RFC 9449 §7.1): a bound token
	// under Bearer is refused even with a good proof, and so is an unbound
	// one under DPoP.
	verify := public + "/api/auth/verify"
	for what, c := range map[string]struct{ auth, proof string }{
		"a bound token under Bearer":  {"Bearer " + jwt, key.Proof("GET", verify, jwt, time.Now())},
		"an unbound token under DPoP": {"DPoP " + frank, ""},
	} {
		req, _ := http.NewRequest("GET", s.base+"/api/auth/verify", nil)
		req.Header.Set("Authorization", c.auth)
		if c.proof != "" {
			req.Header.Set("DPoP", c.proof)
		}
		if code, _, out := testenv.DoJSON(t, req); code != 401 || errReason(out) != "invalid_token" {
			t.Fatalf("forward auth, %s: %d %v, want 401 invalid_token", what, code, out)
		}
	}
	req, _ = http.NewRequest("GET", s.base+"/api/auth/verify", nil)
	req.Header.Set("Authorization", "DPoP "+jwt)
	req.Header.Set("DPoP", key.Proof("GET", verify, jwt, time.Now()))
	if code, _, out := testenv.DoJSON(t, req); code != 200 {
		t.Fatalf("forward auth with a bound token and its proof: %d %v", code, out)
	}
}

// TestDPoPForwardAuthProxies: behind real nginx and Caddy, forward auth
// checks the proof against the URL and method the client used at the
// proxy (X-Original-URL/-Method, X-Forwarded-*), from a trusted proxy.
func TestDPoPForwardAuthProxies(t *testing.T) {
	for _, p := range []struct {
		name  string
		start func(t *testing.T, sessionmanager, upstream string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(p.name, func(t *testing.T) {
			s := startServer(t, map[string]string{"SM_TRUSTED_PROXIES": "127.0.0.1,::1"})
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello %s", r.Header.Get("X-User-Id"))
			}))
			defer upstream.Close()
			proxy := p.start(t, s.base, upstream.URL)
			key := dpoptest.NewKey(t, "EdDSA")
			jwt, _ := dpopLogin(t, s, s.base, "gina", key)
			get := func(path, proof string) int {
				t.Helper()
				code, _, _ := dpopCall(t, "GET", proxy, path, jwt, proof, nil)
				return code
			}
			page := proxy + "/private/page"
			proof := key.Proof("GET", page, jwt, time.Now())
			if code := get("/private/page", proof); code != 200 {
				t.Fatalf("a good proof through %s: %d", p.name, code)
			}
			for _, c := range []struct{ what, path, proof string }{
				{"the same proof again", "/private/page", proof},
				{"no proof", "/private/page", ""},
				{"a proof for another path", "/private/other", key.Proof("GET", page, jwt, time.Now())},
				{"a proof for another method", "/private/page", key.Proof("POST", page, jwt, time.Now())},
				{"a proof for the session manager's own URL", "/private/page", key.Proof("GET", s.base+"/api/auth/verify", jwt, time.Now())},
				{"another key", "/private/page", dpoptest.NewKey(t, "EdDSA").Proof("GET", page, jwt, time.Now())},
			} {
				if code := get(c.path, c.proof); code != 401 {
					t.Fatalf("%s through %s: %d, want 401", c.what, p.name, code)
				}
			}
			// A client's own X-Original-* headers (Caddy passes them through)
			// naming the URL its proof was made for: refused, not believed.
			other := "https://rs.example.com/elsewhere"
			req, _ := http.NewRequest("GET", page, nil)
			req.Header.Set("Authorization", "DPoP "+jwt)
			req.Header.Set("DPoP", key.Proof("GET", other, jwt, time.Now()))
			req.Header.Set("X-Original-URL", other)
			req.Header.Set("X-Original-Method", "GET")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("a client's X-Original-URL through %s: %d, want 401", p.name, resp.StatusCode)
			}
		})
	}
}

// TestDPoPGoClientRefusesBoundTokens: the Go client verifies offline and
// checks no proof, so its middleware refuses a bound token instead of
// taking it as a bearer token; Verify reports the binding.
func TestDPoPGoClientRefusesBoundTokens(t *testing.T) {
	s := startServer(t, nil)
	key := dpoptest.NewKey(t, "ES256")
	jwt, _ := dpopLogin(t, s, s.base, "hugo", key)
	c, err := client.New(client.Config{BaseURL: s.base})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.Verify(context.Background(), jwt)
	if err != nil || claims.JKT != key.JKT {
		t.Fatalf("verify: %v, jkt %q, want %q", err, claims.JKT, key.JKT)
	}
	app := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer app.Close()
	code, h, body := dpopCall(t, "GET", app.URL, "/", jwt, key.Proof("GET", app.URL+"/", jwt, time.Now()), nil)
	wantDPoPRefused(t, "the Go client's middleware with a bound token", code, h, body)
}
