package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// server is a real sessionmanager started through run() on a free port.
type server struct {
	t      testing.TB
	base   string
	cancel context.CancelFunc
	done   chan error
	stdout *syncBuffer
	stderr *syncBuffer
	env    map[string]string
	// driver moves the server's manual clock; nil: the real clock.
	driver *clockDriver
}

type syncBuffer = testenv.SyncBuffer

func freePort(t testing.TB) string { return testenv.FreeAddr(t) }

// startServer runs the service with env (plus a fresh data dir and port)
// and waits until /readyz answers 200.
func startServer(t testing.TB, env map[string]string) *server {
	t.Helper()
	return startServerWith(t, env, nil, nil)
}

// startServerOn is startServer on the manual clock of d (nil: the real
// clock).
func startServerOn(t testing.TB, env map[string]string, d *clockDriver) *server {
	t.Helper()
	if d == nil {
		return startServer(t, env)
	}
	s := startServerWith(t, env, func(c *config) { c.clock = d.clock }, nil)
	s.driver = d
	return s
}

// startServerWith is startServer through serveWith: configure adjusts the
// loaded configuration (values the environment may not set, such as a
// very short token TTL) and started receives the wired app.
func startServerWith(t testing.TB, env map[string]string, configure func(*config), started func(context.Context, *app)) *server {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if env["SM_DATA_DIR"] == "" {
		env["SM_DATA_DIR"] = t.TempDir()
	}
	if env["SM_ADDR"] == "" {
		env["SM_ADDR"] = freePort(t)
	}
	if env["SM_ADMIN_PASSWORD"] == "" {
		env["SM_ADMIN_PASSWORD"] = "admin password for tests"
	}
	// Tests never touch the internet: the default feeds are off unless a
	// test serves them locally.
	if _, set := env["SM_THREAT_FEEDS"]; !set {
		env["SM_THREAT_FEEDS"] = "off"
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, base: "http://" + env["SM_ADDR"], cancel: cancel, done: make(chan error, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}, env: env}
	go func() {
		getenv := func(k string) string { return env[k] }
		if configure == nil && started == nil {
			s.done <- run(ctx, []string{"serve"}, getenv, strings.NewReader(""), s.stdout, s.stderr)
			return
		}
		s.done <- serveWith(ctx, nil, getenv, s.stdout, s.stderr, configure, started)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited before ready: %v\nstderr: %s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 30s\nstderr: %s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// clockDriver moves a manual clock shared by servers the way real time
// passes for requests held on it (the login delay of a slowed account):
// once every request in flight (or announced, see expect) sleeps on the
// clock, it moves the clock by step; then it waits for a request to finish
// before it moves it again, so the clock never runs ahead on its own.
type clockDriver struct {
	clock                         *sm.ManualClock
	inflight, announced, finished atomic.Int64
}

// expect announces n requests about to be sent (a burst): they count as in
// flight from now, so the clock does not move before the last one is sent.
func (d *clockDriver) expect(n int) {
	d.announced.Add(int64(n))
	d.inflight.Add(int64(n))
}

// manualClock returns a manual clock standing at the real now that only
// the test moves.
func manualClock() *clockDriver {
	return &clockDriver{clock: sm.NewManualClock(time.Now().UTC().Truncate(time.Microsecond))}
}

// driveClock returns a manual clock standing at the real now, moved by a
// driver until the test ends.
func driveClock(t testing.TB, step time.Duration) *clockDriver {
	d := manualClock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.run(ctx, step); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func (d *clockDriver) run(ctx context.Context, step time.Duration) {
	movedAfter := int64(-1)
	for ctx.Err() == nil {
		inflight := d.inflight.Load()
		switch {
		case inflight == 0:
			movedAfter = -1
		case int64(d.clock.Sleepers()) >= inflight && d.finished.Load() != movedAfter:
			movedAfter = d.finished.Load()
			d.clock.Advance(step)
		}
		time.Sleep(time.Millisecond)
	}
}

// busy counts a request in flight on s until the returned func is called.
func (s *server) busy() (done func()) {
	d := s.driver
	if d == nil {
		return func() {}
	}
	// An announced request is already counted; any other one counts now.
	if d.announced.Add(-1) < 0 {
		d.announced.Add(1)
		d.inflight.Add(1)
	}
	return func() { d.inflight.Add(-1); d.finished.Add(1) }
}

// stop shuts the server down (SIGTERM-like: context cancelled) and checks
// it exits cleanly.
func (s *server) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("server exited with %v\nstderr: %s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		s.t.Errorf("server did not shut down in 20s")
	}
}

// call makes a JSON request and decodes the JSON answer.
func (s *server) call(method, path, bearer string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	return s.callWith(method, path, bearer, nil, body)
}

// callWith is call with request headers: the one JSON call of these tests.
func (s *server) callWith(method, path, bearer string, headers map[string]string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	req := testenv.NewJSONRequest(s.t, method, s.base+path, body)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return testenv.DoJSON(s.t, req)
}

func postgresEnv(t testing.TB) map[string]string {
	return map[string]string{"DATABASE_URL": testenv.PostgresSchema(t)}
}

func TestServeHealthReadyAndShutdown(t *testing.T) {
	s := startServer(t, nil)
	code, _, body := s.call("GET", "/healthz", "", nil)
	if code != 200 || body["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, body)
	}
	code, _, body = s.call("GET", "/readyz", "", nil)
	if code != 200 || body["status"] != "ready" {
		t.Fatalf("readyz: %d %v", code, body)
	}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"msm_http_requests_total", "msm_active_sessions", "msm_outbox_depth", "msm_http_request_duration_seconds"} {
		if !strings.Contains(string(m), name) {
			t.Errorf("metrics do not list %s", name)
		}
	}
	code, _, _ = s.call("GET", "/.well-known/jwks.json", "", nil)
	if code != 200 {
		t.Errorf("jwks: %d", code)
	}
	if !strings.Contains(s.stdout.String(), "created the admin account") {
		t.Errorf("first start did not announce the admin account: %q", s.stdout.String())
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), s.env["SM_ADMIN_PASSWORD"]) {
		t.Error("the admin password was printed")
	}
	s.stop()
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log: %s", s.stderr.String())
	}
}

func TestBadConfigurationExitsWithOneLine(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SM_ACCESS_TOKEN_TTL": "fifteen"}, "SM_ACCESS_TOKEN_TTL"},
		{map[string]string{"SESSION_ENCRYPTION_KEY": "short"}, "SESSION_ENCRYPTION_KEY"},
		{map[string]string{"SM_TRUSTED_PROXIES": "10.0.0.0/33"}, "SM_TRUSTED_PROXIES"},
		{map[string]string{"SM_INACTIVITY_TIMEOUT": "10s"}, "SM_INACTIVITY_TIMEOUT"},
		{map[string]string{"SM_IDLE_TIMEOUT": "1000h"}, "SM_IDLE_TIMEOUT"},
		{map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{map[string]string{"SM_ENV": "production"}, "SESSION_ENCRYPTION_KEY is required"},
		{map[string]string{"SM_ADDR": "nonsense"}, "SM_ADDR"},
		{map[string]string{"SM_RESET_PASSWORD_URL": "https://app.example.test/reset?code="}, "SMTP_URL"},
		{map[string]string{"SM_RESET_PASSWORD_URL": "ftp://app.example.test/reset", "SMTP_URL": "smtp://127.0.0.1:2525?tls=none", "SM_ALERT_FROM": "a@example.test"}, "SM_RESET_PASSWORD_URL"},
		{map[string]string{"SM_EMAIL_CONFIRMATION_URL": "https://user:pw@auth.example.test/c?confirmation=", "SMTP_URL": "smtp://127.0.0.1:2525?tls=none", "SM_ALERT_FROM": "a@example.test"}, "SM_EMAIL_CONFIRMATION_URL"},
		{map[string]string{"SM_GEO_BUILTIN": "maybe"}, "SM_GEO_BUILTIN"},
		{map[string]string{"REDIS_URL": "redis://:a@127.0.0.1:1,redis://:b@127.0.0.1:2"}, "REDIS_URL seed 2 has other credentials"},
		{map[string]string{"REDIS_URL": "redis-sentinel://127.0.0.1:1"}, "REDIS_URL names no master"},
	}
	for _, c := range cases {
		c.env["SM_DATA_DIR"] = t.TempDir()
		err := run(context.Background(), []string{"serve"}, func(k string) string { return c.env[k] }, nil, io.Discard, io.Discard)
		var ce *configError
		if err == nil || !asConfigError(err, &ce) {
			t.Errorf("%v: want a configuration error, got %v", c.env, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: message %q should name %s on one line", c.env, err, c.want)
		}
	}
}

func asConfigError(err error, ce **configError) bool {
	e, ok := err.(*configError)
	*ce = e
	return ok
}

func TestKeygenAndVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keygen"}, os.Getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	env := map[string]string{"SESSION_ENCRYPTION_KEY": key, "SM_DATA_DIR": t.TempDir()}
	if _, err := loadConfig(func(k string) string { return env[k] }, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := encryptionKeys(&config{EncryptionKey: key}, newLogger(io.Discard, "error")); err != nil {
		t.Fatalf("keygen output is not a valid key: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, os.Getenv, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "sessionmanager ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
}

func TestMigrateCommand(t *testing.T) {
	env := postgresEnv(t)
	env["SM_DATA_DIR"] = t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "postgres") {
		t.Errorf("migrate output: %q", out.String())
	}
}

// must is a tiny helper for the flows below.
func must[T any](t testing.TB, v T, ok bool, what string) T {
	t.Helper()
	if !ok {
		t.Fatalf("missing %s", what)
	}
	return v
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func errReason(body map[string]any) string { return testenv.ErrorReason(body) }

func fieldsOf(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	f, _ := d["fields"].(map[string]any)
	return f
}

var _ = fmt.Sprintf

// TestShutdownEndsEventStreams: an open revocation feed (an SSE stream
// that never goes idle) does not hold the graceful shutdown, and the final
// last-seen flush still runs.
func TestShutdownEndsEventStreams(t *testing.T) {
	s := startServer(t, nil)
	svc := s.adminToken("service")
	req, _ := http.NewRequest("GET", s.base+"/api/auth/revocations", nil)
	req.Header.Set("Authorization", "Bearer "+svc)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feed: %v %v", err, resp)
	}
	defer resp.Body.Close()
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); ended <- err }()
	s.stop()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("the event stream was not ended by the shutdown")
	}
	logs := s.stderr.String()
	if strings.Contains(logs, "shutdown timed out") || strings.Contains(logs, "final last-seen flush failed") {
		t.Errorf("shutdown was not clean:\n%s", logs)
	}
}

// TestUntrustedForwardedForWarnsOnce: X-Forwarded-For from a peer that is
// not a trusted proxy is ignored, and the operator is told once.
func TestUntrustedForwardedForWarnsOnce(t *testing.T) {
	s := startServer(t, nil)
	for range 3 {
		s.forwardedFor("203.0.113.50")
	}
	s.stop()
	if n := strings.Count(s.stderr.String(), "not in SM_TRUSTED_PROXIES"); n != 1 {
		t.Errorf("warned %d times, want once", n)
	}
}
