package sessionmanager_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// The benchmarks of docs/PERFORMANCE.md beyond the hot path of
// bench_test.go: login with and without the password hash, refresh, the bus
// fan-out the dashboard's live stream sits on, the verify path with many
// stored sessions (cold and cached), the memory of a cached session and the
// store writes of last-seen. Names are stable for benchstat.

// BenchmarkLogin is a password sign-in: the whole pipeline (lookup, history,
// risk, session, first refresh token, audit event) with a cheap hash
// (hash=cheap: the pipeline alone) and with password.Default() (argon2id at
// password.DefaultParams).
func BenchmarkLogin(b *testing.B) {
	hashes := []struct {
		name string
		h    sm.PasswordHasher
	}{{"cheap", cheapPasswords}, {"argon2id", password.Default()}}
	for _, k := range storeKinds {
		for _, h := range hashes {
			b.Run("store="+k.name+"/hash="+h.name, func(b *testing.B) {
				e := newEnv(b, k, func(c *sm.Config) { c.Passwords = h.h })
				e.register("bench")
				b.ReportAllocs()
				for b.Loop() {
					if _, err := e.m.Login(e.ctx, "bench", "a long enough password", client); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRefresh rotates a refresh token, each new token used once (a
// chain), as a client does every access-token lifetime.
func BenchmarkRefresh(b *testing.B) {
	for _, k := range storeKinds {
		b.Run("store="+k.name, func(b *testing.B) {
			e := newEnv(b, k)
			rt := e.register("bench").RefreshToken
			b.ReportAllocs()
			for b.Loop() {
				res, err := e.m.Refresh(e.ctx, rt, client)
				if err != nil {
					b.Fatal(err)
				}
				rt = res.RefreshToken
			}
		})
	}
}

// BenchmarkBusFanout publishes a session.ended message on the LocalBus with
// 100 dashboard streams listening. Each subscriber does what one SSE stream
// does per message (web/sse.go): encode the event and hand it to its stream
// without blocking; a goroutine per stream writes the SSE frame. The
// /admin/events handler itself is not wired into the server yet, so this is
// the fan-out it sits on.
func BenchmarkBusFanout(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			bus := sm.NewLocalBus(nil)
			var wg sync.WaitGroup
			var stops []func()
			for range n {
				c := make(chan []byte, 16)
				unsub := bus.Subscribe(func(m sm.Message) {
					frame := fmt.Appendf(nil, "event: %s\ndata: {\"kind\":%q,\"sid\":%q,\"uid\":%q}\n\n", m.Kind, m.Kind, m.SessionID, m.UserID)
					select {
					case c <- frame:
					default: // a slow stream misses this one, as in web/sse.go
					}
				})
				done := make(chan struct{})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case f := <-c:
							_, _ = io.Discard.Write(f)
						case <-done:
							return
						}
					}
				}()
				// The bus's delivery goroutine may still be in the callback
				// after unsub returns: c stays open.
				stops = append(stops, func() { unsub(); close(done) })
			}
			b.Cleanup(func() {
				for _, stop := range stops {
					stop()
				}
				wg.Wait()
			})
			msg := sm.Message{Kind: sm.MsgSessionEnded, SessionID: "ses-0001", UserID: "user-0001", Reason: sm.EndManual, At: time.Now()}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := bus.Publish(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// scaleSizes are the stored-session counts of the verify-at-scale runs.
var scaleSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}

// benchUser owns every seeded session.
const benchUser = "u-bench"

// seedScale stores n live sessions of benchUser with one bulk statement per
// store (the store API inserts one at a time, which would take minutes for a
// million). It returns the session ids.
func seedScale(b *testing.B, e *env, kind string, n int) []string {
	b.Helper()
	now := e.clock.Now()
	if err := e.store.CreateUser(e.ctx, &sm.User{ID: benchUser, Email: "bench@example.com", Username: "bench", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	exp := now.Add(720 * time.Hour)
	switch kind {
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+e.path+"?_busy_timeout=30000")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		_, err = db.ExecContext(e.ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
			INSERT INTO sessions (id, user_id, status, auth_method, created_at, last_seen_at, expires_at, ip, user_agent)
			SELECT printf('ses-%08d', i), ?, 'active', 'password', ?, ?, ?, '203.0.113.7', 'bench' FROM n`,
			n, benchUser, now.UnixMicro(), now.UnixMicro(), exp.UnixMicro())
		if err != nil {
			b.Fatal(err)
		}
	case "postgres":
		_, err := e.store.(*postgres.Store).Pool().Exec(e.ctx, `INSERT INTO sessions
			(id, user_id, status, auth_method, created_at, last_seen, expires_at, ip, user_agent)
			SELECT 'ses-' || lpad(i::text, 8, '0'), $1, 'active', 'password', $2, $2, $3, '203.0.113.7', 'bench'
			FROM generate_series(0, $4::int - 1) AS i`, benchUser, now, exp, n)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.store.(*postgres.Store).Pool().Exec(e.ctx, `ANALYZE sessions`); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("ses-%08d", i)
	}
	return ids
}

// freshManager is a Manager with empty caches (state, activity, verified
// tokens) on e's store: every first request per session is cold.
func freshManager(b *testing.B, e *env) *sm.Manager {
	b.Helper()
	keys, err := token.NewKeyring(e.ctx, e.store, e.secrets, token.Config{Issuer: "test", Audience: "test", TTL: 15 * time.Minute, Now: e.clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	m, err := sm.New(sm.Config{Store: e.store, Tokens: keys, Secrets: e.secrets, Passwords: cheapPasswords, Clock: e.clock, Activity: e.sink, InstanceID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// issueFor signs one access token per id, on every core.
func issueFor(b *testing.B, e *env, ids []string) []string {
	b.Helper()
	toks := make([]string, len(ids))
	eachParallel(b, len(ids), func(i int) error {
		t, _, err := e.keys.Issue(e.ctx, benchUser, ids[i], sm.AuthContext{}, "", e.clock.Now())
		toks[i] = t
		return err
	})
	return toks
}

// warmAll authenticates every token once on e's Manager, on every core.
func warmAll(b *testing.B, e *env, toks []string) {
	b.Helper()
	eachParallel(b, len(toks), func(i int) error {
		_, err := e.m.Authenticate(e.ctx, toks[i])
		return err
	})
}

// eachParallel runs fn(0..n-1) on GOMAXPROCS goroutines; the first error fails b.
func eachParallel(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCold is the first request of a session on an instance:
// Ed25519 verification of a never-seen token and a store read of the
// session, among n stored sessions, sessions picked at random. Every
// iteration is cold: when the token pool is spent, a fresh Manager (empty
// caches) takes over with the timer stopped.
func BenchmarkVerifyCold(b *testing.B) {
	for _, k := range storeKinds {
		for _, sz := range scaleSizes {
			b.Run("store="+k.name+"/sessions="+sz.name, func(b *testing.B) {
				e := newEnv(b, k)
				ids := seedScale(b, e, k.name, sz.n)
				rng := rand.New(rand.NewPCG(1, uint64(sz.n)))
				pick := make([]string, min(sz.n, 5000))
				for i, j := range rng.Perm(sz.n)[:len(pick)] {
					pick[i] = ids[j]
				}
				toks := issueFor(b, e, pick)
				m := freshManager(b, e)
				i := 0
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if i == len(toks) {
						b.StopTimer()
						m.Close()
						m, i = freshManager(b, e), 0
						b.StartTimer()
					}
					if _, err := m.Authenticate(e.ctx, toks[i]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				m.Close()
			})
		}
	}
}

// BenchmarkVerifyWarm is a request on a cached session with n sessions
// cached on the instance (all of them authenticated once), picked at
// random. The verified-token cache holds token.DefaultCacheSize tokens, so
// above that a share of requests verifies the signature again. The 1M size
// takes minutes to set up (a million signatures and verifications) and runs
// only with SM_BENCH_WARM_1M=1.
func BenchmarkVerifyWarm(b *testing.B) {
	sizes := scaleSizes[:2]
	if os.Getenv("SM_BENCH_WARM_1M") == "1" {
		sizes = scaleSizes
	}
	for _, k := range storeKinds {
		for _, sz := range sizes {
			b.Run("store="+k.name+"/sessions="+sz.name, func(b *testing.B) {
				e := newEnv(b, k)
				ids := seedScale(b, e, k.name, sz.n)
				toks := issueFor(b, e, ids)
				warmAll(b, e, toks)
				order := rand.New(rand.NewPCG(2, 3)).Perm(len(toks))
				i := 0
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := e.m.Authenticate(e.ctx, toks[order[i%len(order)]]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkCachedSessionMemory reports the heap one cached session costs an
// instance: the state cache (with its last-seen bookkeeping) and the
// verified-token cache after one Authenticate per session, measured with
// runtime.MemStats around the first requests of n distinct sessions.
// bytes/session is after the last-seen flush (at most 1 s later on a running
// instance): what a session costs while it stays cached; pending-bytes/session
// is before it, with every session's note still waiting for the store.
//
// SM_BENCH_MEMORY_SESSIONS=1000000 adds that size (a few minutes: every
// session's token is signed and verified once).
func BenchmarkCachedSessionMemory(b *testing.B) {
	sizes := []int{10_000, 30_000, 100_000}
	if v, err := strconv.Atoi(os.Getenv("SM_BENCH_MEMORY_SESSIONS")); err == nil && v > 0 {
		sizes = append(sizes, v)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			e := newEnv(b, storeKinds[0])
			ids := seedScale(b, e, "sqlite", n)
			toks := issueFor(b, e, ids)
			var perSession, pending float64
			for b.Loop() {
				b.StopTimer()
				m := freshManager(b, e)
				var before, queued, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				for _, t := range toks {
					if _, err := m.Authenticate(e.ctx, t); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&queued)
				if err := m.Flush(e.ctx); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				pending = float64(int64(queued.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
				perSession = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
				runtime.KeepAlive(m)
				m.Close()
				b.StartTimer()
			}
			b.ReportMetric(perSession, "bytes/session")
			b.ReportMetric(pending, "pending-bytes/session")
		})
	}
}

// BenchmarkLastSeenWrites counts the store writes of last-seen per 1,000
// authenticated requests: s sessions take requests in turn, the clock moves
// 100 µs per request, the flusher runs every 1,000 requests. It fails if any
// session was written more than once per LastSeenInterval. It also reports
// the store reads per 1,000 requests: a cached state is read again after
// StateCacheTTL (2 s), so reads grow with the sessions active per 2 s.
func BenchmarkLastSeenWrites(b *testing.B) {
	for _, s := range []int{10, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", s), func(b *testing.B) {
			var cs *countingStore
			e := newEnv(b, storeKind{"sqlite", func(t testing.TB) (storetest.Store, string) {
				st, p := storeKinds[0].open(t)
				cs = &countingStore{Store: st}
				return cs, p
			}})
			toks := make([]string, s)
			for i := range toks {
				toks[i] = e.register(fmt.Sprintf("u%d", i)).AccessToken
			}
			if err := e.m.Flush(e.ctx); err != nil {
				b.Fatal(err)
			}
			start, before, reads := e.clock.Now(), e.sink.writes.Load(), cs.reads.Load()
			reqs := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.m.Authenticate(e.ctx, toks[reqs%s]); err != nil {
					b.Fatal(err)
				}
				reqs++
				e.clock.Advance(100 * time.Microsecond)
				if reqs%1000 == 0 {
					if err := e.m.Flush(e.ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := e.m.Flush(e.ctx); err != nil {
				b.Fatal(err)
			}
			writes := e.sink.writes.Load() - before
			intervals := int64(e.clock.Now().Sub(start)/e.m.Config().LastSeenInterval) + 1
			if bound := int64(s) * intervals; writes > bound {
				b.Fatalf("%d last-seen writes for %d sessions over %d intervals: bound %d", writes, s, intervals, bound)
			}
			b.ReportMetric(float64(writes)*1000/float64(reqs), "writes/1k-req")
			b.ReportMetric(float64(cs.reads.Load()-reads)*1000/float64(reqs), "reads/1k-req")
		})
	}
}
