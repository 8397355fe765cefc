package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// session is one signed-in session loadgen holds.
type session struct {
	id       string
	userName string
	mu       sync.Mutex
	access   string
	refresh  string // "" while a refresh of it is in flight
	// ended is set once an admin force logout of it got its answer: every
	// request sent afterwards must get 401.
	ended atomic.Bool
}

// pool is the users and sessions of a run.
type pool struct {
	mu       sync.RWMutex
	sessions []*session
	users    []string
}

func (p *pool) add(s *session) {
	p.mu.Lock()
	p.sessions = append(p.sessions, s)
	p.mu.Unlock()
}

func (p *pool) accessTokens() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]string, len(p.sessions))
	for i, s := range p.sessions {
		out[i] = s.access
	}
	return out
}

// authResponse is the part of a login/register/refresh answer loadgen reads.
type authResponse struct {
	JWT          string `json:"jwt"`
	RefreshToken string `json:"refreshToken"`
	Session      struct {
		ID string `json:"id"`
	} `json:"session"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
}

// sessionFrom reads a login or register answer.
func sessionFrom(body []byte) (*session, error) {
	var a authResponse
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	if a.JWT == "" || a.RefreshToken == "" {
		return nil, fmt.Errorf("answer without tokens: %.200s", body)
	}
	return &session{id: a.Session.ID, userName: a.User.Username, access: a.JWT, refresh: a.RefreshToken}, nil
}

// setupUsers registers o.users fresh users through the API (each answer is
// a session), a few at a time: registration hashes the password, which is
// deliberately slow.
func setupUsers(ctx context.Context, o *options, out io.Writer) (*pool, error) {
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	prefix := "lg" + hex.EncodeToString(rb[:])
	p := &pool{}
	start := time.Now()
	var mu sync.Mutex
	failed, first := parallel(ctx, 4, o.users, false, func(i int) error {
		name := fmt.Sprintf("%s-%d", prefix, i)
		body, _ := json.Marshal(map[string]string{"username": name, "email": name + "@loadgen.example", "password": o.password})
		code, resp, err := post(ctx, o.target+"/api/auth/local/register", "", body)
		var s *session
		if err == nil && code != 200 {
			err = newRegisterError(code, resp)
		}
		if err == nil {
			s, err = sessionFrom(resp)
		}
		if err != nil {
			return err
		}
		mu.Lock()
		p.users = append(p.users, name)
		p.sessions = append(p.sessions, s)
		mu.Unlock()
		return nil
	})
	if failed > 0 {
		err := fmt.Errorf("%d of %d registrations failed, first: %w", failed, o.users, first)
		if re, ok := first.(*registerError); ok && re.reason == "too_many_signups" {
			err = fmt.Errorf("%w (every loadgen user signs up from loopback: start the server with SM_REGISTER_PER_IP=0)", err)
		}
		return nil, err
	}
	fmt.Fprintf(out, "setup: registered %d users (one session each) in %s\n", len(p.users), time.Since(start).Round(time.Millisecond))
	return p, nil
}

// registerError is a refused sign-up, with the server's reason code.
type registerError struct {
	status int
	reason string
	body   []byte
}

func newRegisterError(status int, body []byte) *registerError {
	var doc struct {
		Error struct {
			Details struct {
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &doc)
	return &registerError{status: status, reason: doc.Error.Details.Reason, body: body}
}

func (e *registerError) Error() string {
	return fmt.Sprintf("register: status %d: %.200s", e.status, e.body)
}

// setupClient is the plain client of setup and admin calls.
var setupClient = &http.Client{Timeout: 30 * time.Second}

// post sends a JSON POST with an optional bearer token and returns the
// status and body.
func post(ctx context.Context, url, bearer string, body []byte) (int, []byte, error) {
	return request(ctx, setupClient, "POST", url, bearer, body)
}

// request sends one request on client, the body (nil: none) as JSON, with
// an optional bearer token, and returns the status and (up to 1 MiB of)
// the body.
func request(ctx context.Context, client *http.Client, method, url, bearer string, body []byte) (int, []byte, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// openSession signs an external user in through POST /api/sessions of
// target (body: its JSON) with the service token.
func openSession(ctx context.Context, client *http.Client, target, serviceToken string, body []byte) (authResponse, error) {
	var a authResponse
	code, resp, err := request(ctx, client, "POST", target+"/api/sessions", serviceToken, body)
	if err == nil && code != http.StatusCreated {
		err = fmt.Errorf("POST /api/sessions: status %d: %.200s", code, resp)
	}
	if err == nil {
		err = json.Unmarshal(resp, &a)
	}
	if err == nil && (a.JWT == "" || a.Session.ID == "") {
		err = fmt.Errorf("POST /api/sessions: answer without a token or session id: %.200s", resp)
	}
	return a, err
}

// bearerTargeter cycles through tokens on GET url.
func bearerTargeter(url string, tokens []string) vegeta.Targeter {
	headers := make([]map[string][]string, len(tokens))
	for i, t := range tokens {
		headers[i] = map[string][]string{"Authorization": {"Bearer " + t}}
	}
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := n.Add(1) % uint64(len(headers))
		t.Method, t.URL, t.Header = "GET", url, headers[i]
		return nil
	}
}
