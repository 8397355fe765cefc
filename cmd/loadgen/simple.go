package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// runSimple runs one of me, login or refresh.
func runSimple(ctx context.Context, o *options, out io.Writer) error {
	p, err := setupUsers(ctx, o, out)
	if err != nil {
		return err
	}
	resetPeakRSS(o.pid)
	switch o.scenario {
	case "me":
		before := scrapeCounter(o.target, lastSeenCounter)
		r := attack(ctx, o, "me", bearerTargeter(o.target+"/api/users/me", p.accessTokens()), false, nil)
		r.print(out)
		reportLastSeen(out, o.target, before, r, len(p.sessions))
	case "login":
		r := attack(ctx, o, "login", loginTargeter(o, p.users), false, nil)
		r.print(out)
	case "refresh":
		return runRefresh(ctx, o, out, p)
	}
	return nil
}

// loginBody is the JSON of a password sign-in.
func loginBody(user, password string) []byte {
	b, _ := json.Marshal(map[string]string{"identifier": user, "password": password})
	return b
}

// loginTargeter signs the users in in turn.
func loginTargeter(o *options, users []string) vegeta.Targeter {
	bodies := make([][]byte, len(users))
	for i, u := range users {
		bodies[i] = loginBody(u, o.password)
	}
	hdr := map[string][]string{"Content-Type": {"application/json"}}
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := n.Add(1) % uint64(len(bodies))
		t.Method, t.URL, t.Body, t.Header = "POST", o.target+"/api/auth/local", bodies[i], hdr
		return nil
	}
}

// runRefresh rotates refresh tokens in chains: each answer's new token goes
// back into the pool, each token is sent once. In-flight requests are
// bounded by the number of sessions.
func runRefresh(ctx context.Context, o *options, out io.Writer, p *pool) error {
	tokens := make(chan string, len(p.sessions))
	for _, s := range p.sessions {
		tokens <- s.refresh
	}
	hdr := map[string][]string{"Content-Type": {"application/json"}}
	var broken atomic.Int64
	tr := func(t *vegeta.Target) error {
		select {
		case tok := <-tokens:
			body, _ := json.Marshal(map[string]string{"refreshToken": tok})
			t.Method, t.URL, t.Body, t.Header = "POST", o.target+"/api/auth/refresh", body, hdr
			return nil
		case <-time.After(5 * time.Second):
			return vegeta.ErrNoTargets
		}
	}
	onResult := func(res *vegeta.Result) {
		var a authResponse
		if res.Code == 200 && json.Unmarshal(res.Body, &a) == nil && a.RefreshToken != "" {
			tokens <- a.RefreshToken
			return
		}
		broken.Add(1)
	}
	r := attack(ctx, o, "refresh", tr, true, onResult)
	r.print(out)
	fmt.Fprintf(out, "refresh chains: %d sessions, %d chains broken by a failed refresh\n", len(p.sessions), broken.Load())
	return nil
}
