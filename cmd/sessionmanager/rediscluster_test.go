package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/redistest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// instancesOn starts three servers on one Postgres schema sharing Redis at
// redisURL. Their session-state cache lives an hour, so a revocation that
// reaches another instance came by the bus (or the bus's recovery), never by
// the cache expiring.
func instancesOn(t *testing.T, redisURL string) (nodes []*server, prefix string) {
	db := testenv.PostgresSchema(t)
	key := token.GenerateKey()
	prefix = testenv.Name("msmtest:") + ":"
	for range 3 {
		env := map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": key, "SM_REDIS_PREFIX": prefix, "REDIS_URL": redisURL, "SM_LOG_LEVEL": "info"}
		nodes = append(nodes, startServerWith(t, env, func(c *config) { c.stateCacheTTL = time.Hour }, nil))
	}
	// On failure, tell what the instances' links went through.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, n := range nodes {
			for _, l := range strings.Split(n.stderr.String(), "\n") {
				if strings.Contains(l, "cluster: ") || strings.Contains(l, "redis") || strings.Contains(l, "bus") {
					t.Logf("instance %d: %s", i, l)
				}
			}
		}
	})
	return nodes, prefix
}

// sharedOf returns /readyz's "shared" object.
func sharedOf(t *testing.T, s *server) map[string]any {
	t.Helper()
	code, _, body := s.call("GET", "/readyz", "", nil)
	if code != 200 {
		t.Fatalf("readyz: %d %v", code, body)
	}
	shared, _ := body["shared"].(map[string]any)
	return shared
}

// loginSeen signs user in on a and checks every node accepts the access
// token (so each has the session cached as live); it returns the session
// id, the access token and the refresh token.
func loginSeen(t *testing.T, nodes []*server, user string) (sid, jwt, refresh string) {
	t.Helper()
	code, _, l := nodes[0].call("POST", "/api/auth/local", "", map[string]any{"identifier": user, "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, l)
	}
	for i, n := range nodes {
		if got := get(t, n.base+"/api/auth/verify", str(l, "jwt")); got != 200 {
			t.Fatalf("instance %d before the force logout: %d", i, got)
		}
	}
	return str(l["session"].(map[string]any), "id"), str(l, "jwt"), str(l, "refreshToken")
}

// refusedEverywhere waits until every node refuses the access token and the
// refresh token.
func refusedEverywhere(t *testing.T, nodes []*server, jwt, refresh string) {
	t.Helper()
	for i, n := range nodes {
		testenv.Eventually(t, "instance to refuse the access token", func() bool {
			return get(t, n.base+"/api/auth/verify", jwt) == 401
		})
		code, _, _ := n.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": refresh})
		if code != 401 {
			t.Fatalf("instance %d still refreshes an ended session: %d", i, code)
		}
	}
}

// TestRedisModes runs three instances on a single Redis, a Redis Cluster
// and Sentinel: /readyz and the dashboard tell the mode, and a force logout
// on B reaches C through the bus (the state cache lives an hour here).
func TestRedisModes(t *testing.T) {
	for _, tc := range []struct {
		mode string
		url  func(t *testing.T) string
	}{
		{"single", func(t *testing.T) string { return testenv.RedisURL(t) }},
		{"cluster", func(t *testing.T) string { return redistest.SharedCluster(t).URL() }},
		// One node's URL: the service finds it is a cluster node.
		{"cluster", func(t *testing.T) string { return "redis://" + redistest.SharedCluster(t).Nodes[0].Addr }},
		{"sentinel", func(t *testing.T) string { return redistest.SharedSentinel(t).URL() }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			nodes, _ := instancesOn(t, tc.url(t))
			a, b, c := nodes[0], nodes[1], nodes[2]
			shared := sharedOf(t, c)
			if shared["bus"] != "redis" || shared["redisMode"] != tc.mode || shared["healthy"] != true {
				t.Fatalf("readyz shared = %v, want redis %s healthy", shared, tc.mode)
			}
			req, _ := http.NewRequest("GET", c.base+"/admin/data", nil)
			req.AddCookie(adminCookie(t, c.adminSignIn()))
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			card := regexp.MustCompile(`(?s)<section class="card" id="shared">.*?</section>`).FindString(string(raw))
			if !strings.Contains(card, `data-redis-mode="`+tc.mode+`"`) || !strings.Contains(card, "badge-ok") {
				t.Fatalf("dashboard's shared-link card: %s", card)
			}

			a.call("POST", "/api/auth/local/register", "", map[string]any{"username": "modes", "email": "modes@example.com", "password": "correct horse battery"})
			sid, jwt, refresh := loginSeen(t, nodes, "modes")
			if code, _, body := b.call("POST", "/api/admin/sessions/"+sid+"/terminate", b.adminToken("write"), nil); code != 200 {
				t.Fatalf("terminate: %d %v", code, body)
			}
			refusedEverywhere(t, nodes, jwt, refresh)
		})
	}
}

// TestForceLogoutDuringClusterFailover force-logs-out a session on B while
// the master that owns the bus channel's slot fails over (killed, or a
// planned CLUSTER FAILOVER), and checks the logout holds on every instance
// although their caches would keep the session for an hour: an instance
// that lost the channel resubscribes and drops its caches (messages may have
// been lost), B's refused publish is retried, and while a master does not
// answer the instances read session state from the store (fail-open).
// Then the service works again without a restart: /readyz is healthy and a
// new force logout travels by the bus.
func TestForceLogoutDuringClusterFailover(t *testing.T) {
	rc := redistest.SharedCluster(t)
	nodes, prefix := instancesOn(t, rc.URL())
	slot, err := rc.Slot(context.Background(), prefix+"bus")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"kill", "manual"} {
		t.Run(mode, func(t *testing.T) {
			forceLogoutDuring(t, nodes, "failover-"+mode, func(during func()) error {
				return rc.Failover(context.Background(), mode, slot, during)
			})
		})
	}
}

// TestForceLogoutDuringSentinelFailover is the same through Sentinel: a
// force logout while SENTINEL FAILOVER promotes the replica holds on every
// instance, and a later one travels by the bus on the new master. go-redis
// moves its connection pool to the new master but leaves subscriptions on
// the demoted one, which stays a master that hears nothing for seconds; the
// bus's probe finds that out and subscribes again.
func TestForceLogoutDuringSentinelFailover(t *testing.T) {
	rs := redistest.SharedSentinel(t)
	nodes, _ := instancesOn(t, rs.URL())
	forceLogoutDuring(t, nodes, "sentinel", func(during func()) error {
		_, err := rs.Failover(context.Background(), during)
		return err
	})
}

// forceLogoutDuring signs a new user in on A, seen by every instance, and
// force-logs it out on B from inside failover (which calls during once the
// failover is under way); every instance must refuse it, report Redis
// healthy again, and carry a later force logout.
func forceLogoutDuring(t *testing.T, nodes []*server, user string, failover func(during func()) error) {
	t.Helper()
	a, b := nodes[0], nodes[1]
	write := b.adminToken("write")
	a.call("POST", "/api/auth/local/register", "", map[string]any{"username": user, "email": user + "@example.com", "password": "correct horse battery"})
	sid, jwt, refresh := loginSeen(t, nodes, user)
	terminated := make(chan int, 1)
	if err := failover(func() {
		code, _, _ := b.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil)
		terminated <- code
	}); err != nil {
		t.Fatal(err)
	}
	if code := <-terminated; code != 200 {
		t.Fatalf("force logout during the failover: %d", code)
	}
	refusedEverywhere(t, nodes, jwt, refresh)
	for _, n := range nodes {
		testenv.Eventually(t, "instance healthy again after the failover", func() bool {
			return sharedOf(t, n)["healthy"] == true
		})
	}
	// Recovered: a new force logout travels by the bus again.
	sid, jwt, refresh = loginSeen(t, nodes, user)
	if code, _, body := b.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
		t.Fatalf("terminate after the failover: %d %v", code, body)
	}
	refusedEverywhere(t, nodes, jwt, refresh)
}
