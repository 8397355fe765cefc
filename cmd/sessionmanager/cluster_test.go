package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// threeInstances starts three servers on one Postgres schema, sharing Redis
// when withRedis is true (else Postgres LISTEN/NOTIFY carries the bus).
func threeInstances(t *testing.T, withRedis bool) ([]*server, string) {
	db := testenv.PostgresSchema(t)
	key := token.GenerateKey()
	prefix := testenv.Name("msmtest:") + ":"
	var redisURL string
	if withRedis {
		redisURL = testenv.RedisURL(t)
	}
	var out []*server
	for range 3 {
		env := map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": key, "SM_REDIS_PREFIX": prefix, "REDIS_URL": redisURL, "SM_LOG_LEVEL": "warn"}
		out = append(out, startServer(t, env))
	}
	return out, prefix
}

// get returns the status of a GET with a bearer token.
func get(t testing.TB, url, bearer string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// TestForceLogoutReachesEveryInstance logs in through A, force-logs-out
// through B, and measures how long until C rejects the access token and
// the refresh token.
func TestForceLogoutReachesEveryInstance(t *testing.T) {
	for _, withRedis := range []bool{true, false} {
		name := "redis"
		if !withRedis {
			name = "postgres-notify"
		}
		t.Run(name, func(t *testing.T) {
			nodes, _ := threeInstances(t, withRedis)
			a, b, c := nodes[0], nodes[1], nodes[2]
			write := b.adminToken("write")
			_, _, reg := a.call("POST", "/api/auth/local/register", "", map[string]any{"username": "multi", "email": "multi@example.com", "password": "correct horse battery"})
			trials := 200
			if testing.Short() {
				trials = 20
			}
			var access, refresh []time.Duration
			for i := range trials {
				code, _, l := a.call("POST", "/api/auth/local", "", map[string]any{"identifier": "multi", "password": "correct horse battery"})
				if code != 200 {
					t.Fatalf("login %d: %d %v", i, code, l)
				}
				sid := str(l["session"].(map[string]any), "id")
				// C has seen the session live (its cache holds it as active).
				if got := get(t, c.base+"/api/auth/verify", str(l, "jwt")); got != 200 {
					t.Fatalf("C before terminate: %d", got)
				}
				if code, _, body := b.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
					t.Fatalf("terminate: %d %v", code, body)
				}
				start := time.Now()
				for get(t, c.base+"/api/auth/verify", str(l, "jwt")) != 401 {
					if time.Since(start) > 5*time.Second {
						t.Fatalf("trial %d: C still accepts the access token 5s after the force logout", i)
					}
				}
				access = append(access, time.Since(start))
				start = time.Now()
				for {
					code, _, _ := c.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(l, "refreshToken")})
					if code == 401 {
						break
					}
					if time.Since(start) > 5*time.Second {
						t.Fatalf("trial %d: C still refreshes 5s after the force logout", i)
					}
				}
				refresh = append(refresh, time.Since(start))
			}
			_ = reg
			t.Logf("%s: force logout via B -> C rejects (over %d trials): access p50=%v p99=%v max=%v; refresh p50=%v p99=%v",
				name, trials, percentile(access, .5), percentile(access, .99), percentile(access, 1), percentile(refresh, .5), percentile(refresh, .99))
			fmt.Printf("MULTI-INSTANCE %s trials=%d access_p50=%v access_p99=%v refresh_p50=%v refresh_p99=%v\n", name, trials,
				percentile(access, .5), percentile(access, .99), percentile(refresh, .5), percentile(refresh, .99))
		})
	}
}

// TestRedisDownRevocationsStillHold breaks the instances' Redis connections
// and checks a force logout still reaches every instance (through the
// store and the cache TTL), then that the cluster recovers by itself.
func TestRedisDownRevocationsStillHold(t *testing.T) {
	nodes, _ := threeInstances(t, true)
	a, b, c := nodes[0], nodes[1], nodes[2]
	write := b.adminToken("write")
	a.call("POST", "/api/auth/local/register", "", map[string]any{"username": "down", "email": "down@example.com", "password": "correct horse battery"})
	_, _, l := a.call("POST", "/api/auth/local", "", map[string]any{"identifier": "down", "password": "correct horse battery"})
	sid := str(l["session"].(map[string]any), "id")
	if get(t, c.base+"/api/auth/verify", str(l, "jwt")) != 200 {
		t.Fatal("C before")
	}
	// Kill every pub/sub connection of the test Redis: messages published
	// while they reconnect are lost.
	rdb := redis.NewClient(mustRedisOpts(t))
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := b.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
		t.Fatal("terminate")
	}
	start := time.Now()
	for get(t, c.base+"/api/auth/verify", str(l, "jwt")) != 401 {
		if time.Since(start) > 5*time.Second {
			t.Fatal("a lost bus message kept a revoked session alive for 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revocation held through a bus gap after %v (bounded by the 2s state-cache TTL)", time.Since(start))
	// The cluster recovers without a restart: a new login and force logout
	// propagate again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, l2 := a.call("POST", "/api/auth/local", "", map[string]any{"identifier": "down", "password": "correct horse battery"})
		if get(t, c.base+"/api/auth/verify", str(l2, "jwt")) != 200 {
			t.Fatal("C rejects a fresh session")
		}
		b.call("POST", "/api/admin/sessions/"+str(l2["session"].(map[string]any), "id")+"/terminate", write, nil)
		s := time.Now()
		for get(t, c.base+"/api/auth/verify", str(l2, "jwt")) != 401 {
		}
		if time.Since(s) < 500*time.Millisecond {
			break // delivered by the bus, not by the cache expiry
		}
		if time.Now().After(deadline) {
			t.Fatal("bus did not recover within 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustRedisOpts(t *testing.T) *redis.Options {
	o, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return o
}
