package sessionmanager_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestMagicLinkLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		reg := e.register("alice")
		opt := sm.MagicLinkOptions{TTL: 10 * time.Minute}
		g, err := e.m.IssueMagicLink(e.ctx, " Alice@Example.com ", client, opt)
		if err != nil || g == nil {
			t.Fatalf("issue: %v %v", g, err)
		}
		if g.Link.UserID != reg.User.ID || !g.Link.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) {
			t.Errorf("link record: %+v", g.Link)
		}
		if bytes.Contains(g.Link.Hash, []byte(g.Token)) || !bytes.Equal(g.Link.Hash, e.secrets.LookupHash("magic_link:"+g.Token)) {
			t.Error("the stored hash is not the token's lookup hash")
		}
		res, err := e.m.VerifyMagicLink(e.ctx, g.Token, client)
		if err != nil || res.Session.AuthMethod != sm.AuthMagicLink || res.User.ID != reg.User.ID || res.Session.Device.Browser != "Chrome" {
			t.Fatalf("verify: %v %+v", err, res)
		}
		if _, err := e.m.VerifyMagicLink(e.ctx, g.Token, client); reasonOfInvalid(t, err) != "link_used" {
			t.Fatalf("reuse: %v", err)
		}

		// Exactly at expiry the link is dead (fake clock, no waiting).
		g, _ = e.m.IssueMagicLink(e.ctx, "alice@example.com", client, opt)
		e.clock.Advance(10 * time.Minute)
		if _, err := e.m.VerifyMagicLink(e.ctx, g.Token, client); reasonOfInvalid(t, err) != "link_expired" {
			t.Fatalf("expired: %v", err)
		}
		if _, err := e.m.VerifyMagicLink(e.ctx, "", client); reasonOfInvalid(t, err) != "link_unknown" {
			t.Fatalf("empty: %v", err)
		}

		// A username is not an email: nothing to send.
		if g, err := e.m.IssueMagicLink(e.ctx, "alice", client, opt); err == nil || g != nil {
			t.Errorf("username as email: %v %v", g, err)
		}
		if g, err := e.m.IssueMagicLink(e.ctx, "nobody@example.com", client, opt); err != nil || g != nil {
			t.Errorf("unknown email without sign-up: %v %v", g, err)
		}
		// A blocked account gets no link.
		if _, err := e.m.SetBlocked(sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin}), reg.User.ID, true); err != nil {
			t.Fatal(err)
		}
		if g, err := e.m.IssueMagicLink(e.ctx, "alice@example.com", client, opt); err != nil || g != nil {
			t.Errorf("blocked account: %v %v", g, err)
		}
	})
}

func TestMagicLinkConcurrentClicksOneSession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("bob")
		g, err := e.m.IssueMagicLink(e.ctx, "bob@example.com", client, sm.MagicLinkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, used := 0, 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.m.VerifyMagicLink(e.ctx, g.Token, client)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else if se, ok := err.(*sm.Error); ok && se.Reason == "link_used" {
					used++
				}
			}()
		}
		wg.Wait()
		if wins != 1 || used != n-1 {
			t.Fatalf("%d wins, %d link_used of %d clicks", wins, used, n)
		}
	})
}

func TestMagicLinkSignupAndRateLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		opt := sm.MagicLinkOptions{Signup: true, MailLimits: sm.MailLimits{PerEmail: 2, PerIP: 3}}
		g, err := e.m.IssueMagicLink(e.ctx, "carol@example.com", client, opt)
		if err != nil || g == nil || g.Link.UserID != "" {
			t.Fatalf("sign-up link: %v %+v", err, g)
		}
		res, err := e.m.VerifyMagicLink(e.ctx, g.Token, client)
		if err != nil || res.User.Email != "carol@example.com" || res.User.Username != "carol" || res.User.PasswordHash != "" {
			t.Fatalf("sign-up: %v %+v", err, res)
		}
		// Per email, then per IP; the window resets.
		for i := 1; i <= 3; i++ {
			err := e.m.LimitMagicLink(e.ctx, "dave@example.com", client, opt)
			if (i <= 2) != (err == nil) {
				t.Fatalf("email request %d: %v", i, err)
			}
		}
		err = e.m.LimitMagicLink(e.ctx, "erin@example.com", client, opt)
		if sm.ErrorCode(err) != sm.ETOOMANY || err.(*sm.Error).RetryAfterSeconds <= 0 {
			t.Fatalf("4th request from the IP: %v", err)
		}
		e.clock.Advance(16 * time.Minute)
		if err := e.m.LimitMagicLink(e.ctx, "dave@example.com", client, opt); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func reasonOfInvalid(t *testing.T, err error) string {
	t.Helper()
	se, ok := err.(*sm.Error)
	if !ok || se.Code != sm.EINVALID {
		t.Fatalf("want EINVALID, got %v", err)
	}
	return se.Reason
}
