package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/time/rate"
)

// mixed is the state of a mixed run: traffic on live sessions, admin force
// logouts, and the check that a terminated session is refused at once.
type mixed struct {
	o      *options
	p      *pool
	logins *rate.Limiter
	seq    atomic.Uint64

	probes     atomic.Int64 // requests sent on an already-terminated session
	violations atomic.Int64 // ... that did not get 401
	logouts    atomic.Int64
	logoutErrs atomic.Int64
	mu         sync.Mutex
	firstViol  []string
	// failedRefresh are live sessions whose refresh failed: a refresh that
	// races a force logout (sent before the admin call answered) may
	// rightly get 401, so each is checked against the logouts at the end.
	failedRefresh map[*session]bool
}

// Shares of the mixed traffic in percent; logins are further capped by
// their own rate (argon2id is meant to be expensive) and fall back to verify.
const (
	shareVerify  = 72
	shareMe      = 20
	shareRefresh = 6 // the rest (2) are logins
)

func runMixed(ctx context.Context, o *options, out io.Writer) error {
	p, err := setupUsers(ctx, o, out)
	if err != nil {
		return err
	}
	mx := &mixed{o: o, p: p, logins: rate.NewLimiter(5, 1), failedRefresh: map[*session]bool{}}
	resetPeakRSS(o.pid)
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); mx.forceLogouts(lctx) }()
	r := attack(ctx, o, "mixed", mx.target, true, mx.result)
	stop()
	wg.Wait()
	r.print(out)
	raced := 0
	for s := range mx.failedRefresh {
		if s.ended.Load() {
			raced++
		}
	}
	fmt.Fprintf(out, "mixed: %d admin force logouts (%d failed); %d requests on already-terminated sessions, %d violations (must be 0); %d refreshes failed on sessions not yet known as ended (%d of them were being force-logged-out)\n",
		mx.logouts.Load(), mx.logoutErrs.Load(), mx.probes.Load(), mx.violations.Load(), len(mx.failedRefresh), raced)
	for _, v := range mx.firstViol {
		fmt.Fprintln(out, "  violation:", v)
	}
	if mx.violations.Load() > 0 {
		return fmt.Errorf("%d requests on terminated sessions were not refused", mx.violations.Load())
	}
	return nil
}

// pick returns a random session; about one in ten picks prefers an ended one.
func (mx *mixed) pick() (int, *session) {
	mx.p.mu.RLock()
	defer mx.p.mu.RUnlock()
	n := len(mx.p.sessions)
	wantEnded := rand.IntN(10) == 0
	for range 8 {
		i := rand.IntN(n)
		if s := mx.p.sessions[i]; s.ended.Load() == wantEnded {
			return i, s
		}
	}
	i := rand.IntN(n)
	return i, mx.p.sessions[i]
}

// target builds the next request. The query string carries the session
// index and, if the session was terminated before this request was built,
// expect=401: result checks it.
func (mx *mixed) target(t *vegeta.Target) error {
	k := int(mx.seq.Add(1) % 100)
	i, s := mx.pick()
	ended := s.ended.Load()
	q := url.Values{"s": {strconv.Itoa(i)}}
	if ended {
		q.Set("expect", "401")
	}
	switch {
	case k >= shareVerify+shareMe+shareRefresh && mx.logins.Allow():
		t.Method, t.URL = "POST", mx.o.target+"/api/auth/local?op=login"
		t.Body = loginBody(mx.p.users[rand.IntN(len(mx.p.users))], mx.o.password)
		t.Header = map[string][]string{"Content-Type": {"application/json"}}
		return nil
	case k >= shareVerify+shareMe && k < shareVerify+shareMe+shareRefresh:
		s.mu.Lock()
		tok := s.refresh
		if !ended {
			s.refresh = "" // in flight: one use per token
		}
		s.mu.Unlock()
		if tok != "" {
			q.Set("op", "refresh")
			body, _ := json.Marshal(map[string]string{"refreshToken": tok})
			t.Method, t.URL, t.Body = "POST", mx.o.target+"/api/auth/refresh?"+q.Encode(), body
			t.Header = map[string][]string{"Content-Type": {"application/json"}}
			return nil
		}
	}
	s.mu.Lock()
	tok := s.access
	s.mu.Unlock()
	path := "/api/auth/verify"
	if k >= shareVerify && k < shareVerify+shareMe {
		path = "/api/users/me"
	}
	t.Method, t.URL, t.Body = "GET", mx.o.target+path+"?"+q.Encode(), nil
	t.Header = map[string][]string{"Authorization": {"Bearer " + tok}}
	return nil
}

// result checks a request's answer and feeds the tokens of logins and
// refreshes back into the pool.
func (mx *mixed) result(res *vegeta.Result) {
	u, err := url.Parse(res.URL)
	if err != nil {
		return
	}
	q := u.Query()
	if q.Get("expect") == "401" {
		mx.probes.Add(1)
		if res.Code != 401 {
			mx.violations.Add(1)
			mx.mu.Lock()
			if len(mx.firstViol) < 5 {
				mx.firstViol = append(mx.firstViol, fmt.Sprintf("%s %s -> %d %s", res.Method, u.Path, res.Code, res.Error))
			}
			mx.mu.Unlock()
		}
		return
	}
	switch q.Get("op") {
	case "login":
		if res.Code == 200 {
			if s, err := sessionFrom(res.Body); err == nil {
				mx.p.add(s)
			}
		}
	case "refresh":
		i, _ := strconv.Atoi(q.Get("s"))
		mx.p.mu.RLock()
		s := mx.p.sessions[i]
		mx.p.mu.RUnlock()
		var a authResponse
		if res.Code == 200 && json.Unmarshal(res.Body, &a) == nil {
			s.mu.Lock()
			s.access, s.refresh = a.JWT, a.RefreshToken
			s.mu.Unlock()
		} else if !s.ended.Load() {
			mx.mu.Lock()
			mx.failedRefresh[s] = true
			mx.mu.Unlock()
		}
	}
}

// forceLogouts ends random live sessions through the admin API at
// o.logoutRate, keeping at least half of the users' sessions alive. A
// session counts as ended once the admin call has answered.
func (mx *mixed) forceLogouts(ctx context.Context) {
	if mx.o.logoutRate <= 0 {
		return
	}
	t := time.NewTicker(time.Second / time.Duration(mx.o.logoutRate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mx.p.mu.RLock()
		var live []*session
		for _, s := range mx.p.sessions {
			if !s.ended.Load() {
				live = append(live, s)
			}
		}
		mx.p.mu.RUnlock()
		if len(live) <= len(mx.p.users)/2 {
			continue
		}
		s := live[rand.IntN(len(live))]
		code, body, err := post(ctx, mx.o.target+"/api/admin/sessions/"+url.PathEscape(s.id)+"/terminate", mx.o.adminToken, nil)
		if err != nil || code/100 != 2 {
			if ctx.Err() == nil {
				mx.logoutErrs.Add(1)
				if mx.logoutErrs.Load() == 1 {
					fmt.Printf("force logout: status %d err %v: %.200s\n", code, err, body)
				}
			}
			continue
		}
		s.ended.Store(true)
		mx.logouts.Add(1)
	}
}
