package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/client"
)

// TestClientHonoursForceLogout runs package client against the real
// server: local verification with the JWKS, and a force logout reaches it
// through the revocation feed long before the access token expires.
func TestClientHonoursForceLogout(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		c, ctx := followFeed(t, s)
		reg := s.register(t, "erin")
		jwt := str(reg, "jwt")
		sid := str(reg["session"].(map[string]any), "id")
		claims, err := c.Verify(ctx, jwt)
		if err != nil || claims.SessionID != sid || claims.Subject != str(reg["user"].(map[string]any), "id") {
			t.Fatalf("verify: %v %+v", err, claims)
		}
		if time.Until(claims.ExpiresAt) < 10*time.Minute {
			t.Fatalf("access token expires at %s: too soon to show the feed matters", claims.ExpiresAt)
		}
		app := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cl, _ := client.ClaimsFrom(r.Context())
			_, _ = w.Write([]byte(cl.Subject))
		})))
		defer app.Close()
		if code := get(t, app.URL, jwt); code != 200 {
			t.Fatalf("app with a live session: %d", code)
		}

		write := s.adminToken("write")
		if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
			t.Fatalf("terminate: %d %v", code, body)
		}
		waitUntil(t, "the client learns of the force logout", func() bool {
			_, ended := c.Revoked(sid)
			return ended
		})
		_, err = c.Verify(ctx, jwt)
		if e, ok := err.(*sm.Error); !ok || e.Code != sm.EUNAUTHORIZED || e.Reason != "manual" {
			t.Fatalf("verify after force logout: %v", err)
		}
		if code := get(t, app.URL, jwt); code != 401 {
			t.Fatalf("app after force logout: %d", code)
		}
	})
}

// followFeed starts a client that follows s's revocation feed until the
// test ends, and waits until it is connected.
func followFeed(t *testing.T, s *server) (*client.Client, context.Context) {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: s.base, ServiceToken: s.adminToken("service")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = c.Run(ctx) }()
	waitUntil(t, "the feed connects", c.Live)
	return c, ctx
}

// waitUntil polls cond for up to 10s (a deadline for a hang, not a speed
// assertion).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientFeedAcrossInstances follows the feed of one instance while the
// force logout goes through another (Redis bus, shared Postgres).
func TestClientFeedAcrossInstances(t *testing.T) {
	nodes, _ := threeInstances(t, true)
	a, b := nodes[0], nodes[1]
	c, ctx := followFeed(t, a)
	reg := b.register(t, "olga")
	sid := str(reg["session"].(map[string]any), "id")
	if _, err := c.Verify(ctx, str(reg, "jwt")); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if code, _, body := b.call("POST", "/api/admin/sessions/"+sid+"/terminate", b.adminToken("write"), nil); code != 200 {
		t.Fatalf("terminate on B: %d %v", code, body)
	}
	waitUntil(t, "the client on A's feed learns of the force logout on B", func() bool {
		_, ended := c.Revoked(sid)
		return ended
	})
}
