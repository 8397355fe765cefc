package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func TestRedisCounter(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.Name("smcnt") + ":"
	c1, c2 := newRedis(t, testenv.Name("c1")), newRedis(t, testenv.Name("c2"))
	cleanupKeys(t, c1, prefix)
	a, b := NewRedisCounter(c1, prefix), NewRedisCounter(c2, prefix)

	// Two instances share one count.
	for i, ctr := range []*RedisCounter{a, b, a} {
		n, err := ctr.Incr(ctx, "login:u1", time.Minute)
		if err != nil || n != int64(i+1) {
			t.Fatalf("incr %d = %d, %v", i, n, err)
		}
	}
	if n, err := b.Get(ctx, "login:u1"); err != nil || n != 3 {
		t.Fatalf("get = %d, %v", n, err)
	}
	// The window starts at the first increment and is not pushed back.
	ttl := c1.PTTL(ctx, prefix+"count:login:u1").Val()
	if ttl <= 0 || ttl > time.Minute {
		t.Fatalf("ttl = %v, want within the window", ttl)
	}
	if err := a.Reset(ctx, "login:u1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Get(ctx, "login:u1"); n != 0 {
		t.Fatalf("after reset = %d", n)
	}
	// Expiry: a short window ends and the count starts over.
	if _, err := a.Incr(ctx, "short", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the short window to expire", func() bool {
		n, err := b.Get(ctx, "short")
		return err == nil && n == 0
	})
	if n, _ := a.Incr(ctx, "short", time.Minute); n != 1 {
		t.Fatalf("new window starts at %d, want 1", n)
	}
	// A key left without a TTL gets one on the next increment.
	c1.Set(ctx, prefix+"count:stuck", 5, 0)
	if n, _ := a.Incr(ctx, "stuck", time.Minute); n != 6 {
		t.Fatalf("stuck incr = %d", n)
	}
	if ttl := c1.PTTL(ctx, prefix+"count:stuck").Val(); ttl <= 0 {
		t.Fatalf("stuck key still has no ttl: %v", ttl)
	}
}

func TestRedisCounterConcurrentIncrements(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.Name("smcnt") + ":"
	cl := newRedis(t, testenv.Name("c"))
	cleanupKeys(t, cl, prefix)
	c := NewRedisCounter(cl, prefix)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := c.Incr(ctx, "k", time.Minute); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := c.Get(ctx, "k"); n != 200 {
		t.Fatalf("count = %d, want 200", n)
	}
}

// TestCounterReserveAndGiveBack: the semantics the sign-in throttle relies
// on, for every Counter (the root's in-process default, Redis from two
// clients): parallel increments each get their own count (a reservation:
// exactly one sees n), Decr gives one back without going below zero or
// creating a key, and keeps the window.
func TestCounterReserveAndGiveBack(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.Name("smcnt") + ":"
	c1, c2 := newRedis(t, testenv.Name("r1")), newRedis(t, testenv.Name("r2"))
	cleanupKeys(t, c1, prefix)
	memory := sm.NewMemoryCounter(nil)
	for _, tc := range []struct {
		name string
		a, b sm.Counter
	}{
		{"memory", memory, memory},
		{"redis", NewRedisCounter(c1, prefix), NewRedisCounter(c2, prefix)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 100
			seen := make([]atomic.Int32, n+1)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := tc.a
					if i%2 == 1 {
						c = tc.b
					}
					got, err := c.Incr(ctx, "burst", time.Minute)
					if err != nil || got < 1 || got > n {
						t.Errorf("incr = %d, %v", got, err)
						return
					}
					seen[got].Add(1)
				}()
			}
			wg.Wait()
			for i := 1; i <= n; i++ {
				if seen[i].Load() != 1 {
					t.Fatalf("count %d returned %d times, want once each of 1..%d", i, seen[i].Load(), n)
				}
			}
			if err := tc.b.Decr(ctx, "burst", time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, _ := tc.a.Get(ctx, "burst"); got != n-1 {
				t.Fatalf("after decr = %d, want %d", got, n-1)
			}
			// Never below zero, and an absent key stays absent.
			_, _ = tc.a.Incr(ctx, "one", time.Minute)
			for range 3 {
				if err := tc.a.Decr(ctx, "one", time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.a.Decr(ctx, "absent", time.Minute); err != nil {
				t.Fatal(err)
			}
			// A window with more than left to run is a later one than the
			// caller's: it keeps its count.
			_, _ = tc.a.Incr(ctx, "later", time.Minute)
			for _, left := range []time.Duration{30 * time.Second, 0, -time.Second} {
				if err := tc.b.Decr(ctx, "later", left); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := tc.a.Get(ctx, "later"); got != 1 {
				t.Fatalf("decr of a window with more than left to run: count %d, want 1", got)
			}
			if err := tc.b.Decr(ctx, "later", time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, _ := tc.a.Get(ctx, "later"); got != 0 {
				t.Fatalf("decr within left: count %d, want 0", got)
			}
			if got, _ := tc.b.Get(ctx, "one"); got != 0 {
				t.Fatalf("decr below zero: %d", got)
			}
			if got, _ := tc.b.Incr(ctx, "absent", time.Minute); got != 1 {
				t.Fatalf("decr of an absent key left %d behind", got-1)
			}
		})
	}
	// Redis: Decr keeps the window (the TTL set by the first Incr).
	if ttl := c1.PTTL(ctx, prefix+"count:burst").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("ttl after decr = %v, want the window's", ttl)
	}
}
