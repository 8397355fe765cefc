package sessionmanager_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/dpoptest"
	"github.com/magic-sessionmanager/sessionmanager/risk"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// countingStore counts SessionByID calls to prove the hot path makes no
// store round trip per request.
type countingStore struct {
	storetest.Store
	reads atomic.Int64
}

func (c *countingStore) SessionByID(ctx context.Context, id string) (*sm.Session, error) {
	c.reads.Add(1)
	return c.Store.SessionByID(ctx, id)
}

// BenchmarkAuthenticate is the authenticated-request path in process:
// verify (cached) + session state (cached) + last-seen note.
func BenchmarkAuthenticate(b *testing.B) {
	k := storeKinds[0]
	var cs *countingStore
	e := newEnv(b, storeKind{"sqlite", func(t testing.TB) (storetest.Store, string) {
		st, p := k.open(t)
		cs = &countingStore{Store: st}
		return cs, p
	}})
	res := e.register("bench")
	if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
		b.Fatal(err)
	}
	before := cs.reads.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := cs.reads.Load() - before; n != 0 {
		b.Fatalf("%d store reads on the hot path (clock is fixed, so the cache never goes stale)", n)
	}
}

// BenchmarkMiddleware adds the net/http middleware around Authenticate.
func BenchmarkMiddleware(b *testing.B) {
	e := newEnv(b, storeKinds[0])
	res := e.register("bench")
	h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+res.AccessToken)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
}

func BenchmarkAuthenticateParallel(b *testing.B) {
	e := newEnv(b, storeKinds[0])
	res := e.register("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.m.Authenticate(e.ctx, res.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthenticateRequest is the hot path with the client known (the
// HTTP middleware, forward auth): session protection compares the address
// and the user agent's hash with the cached fingerprint. The same client
// as the login: nothing to judge.
func BenchmarkAuthenticateRequest(b *testing.B) {
	e := newEnv(b, storeKinds[0], func(c *sm.Config) { c.Risk = risk.New() })
	res := e.register("bench")
	if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, client); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, client); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateRequestFlood is an attacker alternating two
// addresses of two countries on one session: each request is a move, but
// past the per-session budget none is judged (and no event is written).
func BenchmarkAuthenticateRequestFlood(b *testing.B) {
	e := newEnv(b, storeKinds[0], func(c *sm.Config) { c.Risk = risk.New() })
	res := e.register("bench")
	other := client
	other.IP = mustAddr("198.51.100.9")
	clients := [2]sm.ClientInfo{client, other}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, clients[i&1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAuthenticateDPoP is the in-process hot path of a DPoP-bound
// token with a fresh proof per request (parse, signature, htm/htu/iat/ath,
// thumbprint, jti spent in the memory counter), beside the bearer path.
func BenchmarkAuthenticateDPoP(b *testing.B) {
	const url = "https://app.example.com/orders"
	for _, alg := range []string{"bearer", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, storeKinds[0])
			if alg == "bearer" {
				res := e.register("bench")
				b.ReportAllocs()
				for b.Loop() {
					if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, client); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			key := dpoptest.NewKey(b, alg)
			e.register("bench")
			res, err := e.m.Login(e.ctx, "bench", "a long enough password", withProof(client, key.Proof("POST", loginURL, "", e.clock.Now()), "POST", loginURL))
			if err != nil {
				b.Fatal(err)
			}
			// Every request needs its own proof (a proof is good once):
			// made before the timer, they are the client's cost.
			proofs := make([]sm.ClientInfo, b.N)
			for i := range proofs {
				proofs[i] = withProof(client, key.Proof("GET", url, res.AccessToken, e.clock.Now()), "GET", url)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, proofs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
