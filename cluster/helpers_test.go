package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// waitLimit bounds every wait for an asynchronous effect; it is a safety
// net against hangs, not a speed assertion.
const waitLimit = 10 * time.Second

// newRedis returns a client of the test Redis named name (so a test can
// find its connections in CLIENT LIST).
func newRedis(t testing.TB, name string) *redis.Client {
	t.Helper()
	target, err := ParseRedisURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opt := target.Single
	opt.ClientName = name
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// cleanupKeys deletes every key under prefix when the test ends.
func cleanupKeys(t testing.TB, c redis.UniversalClient, prefix string) {
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
}

// newPool returns a pool on a fresh schema of the test Postgres.
func newPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	p, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// killPubSub kills the subscriber connections of the client named name.
func killPubSub(t testing.TB, admin *redis.Client, name string) int {
	t.Helper()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != name || fields["sub"] == "0" || fields["sub"] == "" {
			continue
		}
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	return killed
}

// recv waits for one value on ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return testenv.Recv(t, ch, what)
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, what, cond)
}

func newRedisFromOptions(t testing.TB, opt *redis.Options) *redis.Client {
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// runBus runs bus until the test ends: Close, at cleanup, stops Run and
// waits for it.
func runBus(t testing.TB, bus interface {
	Run(ctx context.Context) error
	Close() error
}) {
	ran := make(chan error, 1)
	go func() { ran <- bus.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = bus.Close()
		recv(t, ran, "Run to return after Close")
	})
}
