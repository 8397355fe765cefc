package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func TestLocalLimiter(t *testing.T) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := NewLocalLimiter(clock.Now)
	for i := range 3 {
		if ok, _, err := l.Allow(ctx, "ip:1", 3); !ok || err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	ok, retry, err := l.Allow(ctx, "ip:1", 3)
	if ok || err != nil || retry <= 0 || retry > 20*time.Second {
		t.Fatalf("4th = %v, retry %v, %v; want refused with retry within 20s", ok, retry, err)
	}
	if ok, _, _ := l.Allow(ctx, "ip:2", 3); !ok {
		t.Fatal("another key has its own bucket")
	}
	clock.Advance(retry)
	if ok, _, _ := l.Allow(ctx, "ip:1", 3); !ok {
		t.Fatal("a token should be back after retryAfter")
	}
	if _, _, err := l.Allow(ctx, "ip:1", 0); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("perMinute 0: %v", err)
	}
}

func TestLocalLimiterEvictsIdleAndBoundsMemory(t *testing.T) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := NewLocalLimiter(clock.Now)
	l.bound.maxKeys = 20
	for i := range 10 {
		_, _, _ = l.Allow(ctx, fmt.Sprint("k", i), 5)
	}
	clock.Advance(2 * time.Minute)
	_, _, _ = l.Allow(ctx, "new", 5)
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after idle ones were swept, want 1", n)
	}
	for i := range 100 {
		_, _, _ = l.Allow(ctx, fmt.Sprint("flood", i), 5)
	}
	if n := l.Len(); n > l.bound.maxKeys {
		t.Fatalf("%d buckets, want at most %d", n, l.bound.maxKeys)
	}
}

func TestRedisLimiterSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	prefix := testenv.Name("smlim") + ":"
	c1, c2 := newRedis(t, testenv.Name("l1")), newRedis(t, testenv.Name("l2"))
	t.Cleanup(func() { c1.Del(ctx, "rate:"+prefix+"ip:9") })
	a, b := NewRedisLimiter(c1, prefix), NewRedisLimiter(c2, prefix)
	for i, l := range []*RedisLimiter{a, b, a} {
		if ok, _, err := l.Allow(ctx, "ip:9", 3); !ok || err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	ok, retry, err := b.Allow(ctx, "ip:9", 3)
	if ok || err != nil || retry <= 0 || retry > 20*time.Second {
		t.Fatalf("4th = %v, retry %v, %v; want refused with retry within 20s", ok, retry, err)
	}
	if ok, _, _ := a.Allow(ctx, "ip:10", 3); !ok {
		t.Fatal("another key has its own bucket")
	}
	c1.Del(ctx, "rate:"+prefix+"ip:10")
}
