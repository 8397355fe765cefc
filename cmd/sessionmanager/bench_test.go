package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/httpapi"
	"github.com/magic-sessionmanager/sessionmanager/internal/dpoptest"
)

// benchApp wires the real service (build(), as serve does) on a fresh
// SQLite data dir, without a listener: the handler is called in process.
func benchApp(b *testing.B) *app {
	b.Helper()
	env := map[string]string{"SM_DATA_DIR": b.TempDir(), "SM_LOG_LEVEL": "error"}
	c, err := loadConfig(func(k string) string { return env[k] }, nil)
	if err != nil {
		b.Fatal(err)
	}
	a, err := build(context.Background(), c, newLogger(io.Discard, "error"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	return a
}

// benchRegister signs a user up through the handler and returns the access token.
func benchRegister(b *testing.B, h http.Handler) string { return benchRegisterWith(b, h, "") }

// benchRegisterWith is benchRegister with a DPoP proof for the sign-up
// (bound tokens), when proof is not "".
func benchRegisterWith(b *testing.B, h http.Handler, proof string) string {
	b.Helper()
	body := `{"username":"bench","email":"bench@example.com","password":"a long enough password 123"}`
	req := httptest.NewRequest("POST", "/api/auth/local/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var res struct {
		JWT string `json:"jwt"`
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &res) != nil || res.JWT == "" {
		b.Fatalf("register: %d %s", w.Code, w.Body.String())
	}
	return res.JWT
}

// BenchmarkServerVerify is forward auth (GET /api/auth/verify) through the
// server's whole handler (metrics, routing, Authenticate, identity headers)
// in process, without the network: what a request costs the server itself.
// email=on is the server as wired (serve.go sets VerifyEmailHeader, so every
// request reads the user for X-User-Email); email=off is the same handler
// without that header: the cost of the per-request user read.
func BenchmarkServerVerify(b *testing.B) {
	a := benchApp(b)
	tok := benchRegister(b, a.handler)
	off := httpapi.NewServer(httpapi.Deps{Manager: a.manager, Core: a.manager.AdminCore(),
		Logger: a.log, Metrics: httpapi.NewMetrics(nil, nil), Ready: a.store.Ping, VerifyEmailHeader: false})
	// requirement=max_age is a route that demands a recent proof
	// (?max_age=...&acr_values=1, docs/INTEGRATIONS.md); without one the
	// handler parses nothing.
	for _, c := range []struct {
		name, path string
		h          http.Handler
	}{{"email=on", "/api/auth/verify", a.handler}, {"email=off", "/api/auth/verify", off},
		{"email=on/requirement=max_age", "/api/auth/verify?max_age=3600&acr_values=1", a.handler}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", c.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("verify: %d %s", w.Code, w.Body.String())
				}
			}
		})
	}
}

// BenchmarkServerMe is GET /api/users/me through the server's handler.
func BenchmarkServerMe(b *testing.B) {
	a := benchApp(b)
	tok := benchRegister(b, a.handler)
	req := httptest.NewRequest("GET", "/api/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("me: %d %s", w.Code, w.Body.String())
		}
	}
}

// BenchmarkServerHello is a bare handler through httptest, the in-process
// baseline of BenchmarkServerVerify.
func BenchmarkServerHello(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	req := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}

// BenchmarkServerVerifyDPoP is forward auth through the server's handler
// for a bearer token and for a DPoP-bound one with a fresh proof per
// request (the original request named by X-Forwarded-* from a trusted
// proxy), run together so their ratio is measured in one run.
func BenchmarkServerVerifyDPoP(b *testing.B) {
	const original = "https://app.example.com/orders"
	for _, mode := range []string{"bearer", "dpop=ES256", "dpop=EdDSA"} {
		b.Run(mode, func(b *testing.B) {
			a := benchApp(b)
			h := httpapi.NewServer(httpapi.Deps{Manager: a.manager, Core: a.manager.AdminCore(), Logger: a.log,
				Metrics: httpapi.NewMetrics(nil, nil), Ready: a.store.Ping, VerifyEmailHeader: true,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
			var key *dpoptest.Key
			var loginProof string
			if alg, ok := strings.CutPrefix(mode, "dpop="); ok {
				key = dpoptest.NewKey(b, alg)
				loginProof = key.Proof("POST", "http://example.com/api/auth/local/register", "", time.Now())
			}
			tok := benchRegisterWith(b, h, loginProof)
			req := func(proof string) *http.Request {
				r := httptest.NewRequest("GET", "/api/auth/verify", nil)
				r.RemoteAddr = "192.0.2.1:1234"
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("X-Forwarded-Method", "GET")
				r.Header.Set("X-Forwarded-Proto", "https")
				r.Header.Set("X-Forwarded-Host", "app.example.com")
				r.Header.Set("X-Forwarded-Uri", "/orders")
				if proof != "" {
					r.Header.Set("DPoP", proof)
				}
				return r
			}
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				if key == nil {
					reqs[i] = req("")
				} else {
					reqs[i] = req(key.Proof("GET", original, tok, time.Now()))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, reqs[i])
				if w.Code != 200 {
					b.Fatalf("verify: %d %s", w.Code, w.Body.String())
				}
			}
		})
	}
}
