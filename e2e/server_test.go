package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// binary is the sessionmanager command built once by TestMain, with the
// build tags of this test binary (licensetest makes it trust the test
// vendor key given in SM_LICENSE_PUBLIC_KEY).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionmanager")
	args := []string{"build", "-o", binary}
	if buildTags != "" {
		args = append(args, "-tags", buildTags)
	}
	build := exec.Command("go", append(args, "github.com/magic-sessionmanager/sessionmanager/cmd/sessionmanager")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cmd/sessionmanager:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is the real sessionmanager binary, started as a process on a free
// port with a fresh data dir.
type server struct {
	t      testing.TB
	base   string
	cmd    *exec.Cmd
	stderr *testenv.SyncBuffer
	env    map[string]string
}

// processEnv is this process's environment without the service's own
// variables (so a developer's SM_*, DATABASE_URL or LICENSE_KEY do not
// leak into a test), plus env.
func processEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "SM_"), strings.HasPrefix(name, "MAXMIND_"),
			name == "DATABASE_URL", name == "REDIS_URL", name == "LICENSE_KEY", name == "SESSION_ENCRYPTION_KEY":
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startServer runs `sessionmanager COMMAND` (serve or demo) with env (plus
// a fresh data dir, a free port, an admin password and no feed downloads
// unless env says otherwise) and waits until /readyz answers 200.
func startServer(t testing.TB, command string, env map[string]string) *server {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	defaults := map[string]string{"SM_DATA_DIR": t.TempDir(), "SM_ADDR": testenv.FreeAddr(t),
		"SM_ADMIN_PASSWORD": "admin password for tests", "SM_THREAT_FEEDS": "off"}
	for k, v := range defaults {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	for k, v := range licenseEnv() {
		env[k] = v
	}
	s := &server{t: t, base: "http://" + env["SM_ADDR"], stderr: &testenv.SyncBuffer{}, env: env}
	s.cmd = exec.Command(binary, command)
	s.cmd.Env = processEnv(env)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(exited) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("server exited before ready: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 60s\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks the process exits cleanly.
func (s *server) stop(exited chan error) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			s.t.Errorf("server exited with %v\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("server did not shut down in 30s")
	}
}

// adminToken runs `sessionmanager admin create-token` on the server's store.
func (s *server) adminToken(scope string) string {
	s.t.Helper()
	cmd := exec.Command(binary, "admin", "create-token", "--name", "e2e-"+scope, "--scope", scope)
	cmd.Env = processEnv(s.env)
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("create-token: %v", err)
	}
	tok := strings.TrimSpace(string(out))
	if !strings.HasPrefix(tok, "msm_") {
		s.t.Fatalf("token %q", tok)
	}
	return tok
}

// call makes a JSON request and decodes the JSON answer.
func (s *server) call(method, path, bearer string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	return s.request("", "", method, path, bearer, body)
}

// callFrom is call with an X-Forwarded-For client address (the server
// trusts 127.0.0.1 as a proxy through SM_TRUSTED_PROXIES).
func (s *server) callFrom(ip, method, path, bearer string, body any) (int, map[string]any) {
	s.t.Helper()
	code, _, out := s.request(ip, uaFirefoxLinux, method, path, bearer, body)
	return code, out
}

// loginFrom signs a user in through the API from ip with a browser's
// user agent.
func (s *server) loginFrom(ip, userAgent, identifier, password string) (int, map[string]any) {
	s.t.Helper()
	code, _, out := s.request(ip, userAgent, "POST", "/api/auth/local", "", map[string]any{"identifier": identifier, "password": password})
	return code, out
}

func (s *server) request(ip, userAgent, method, path, bearer string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	req := testenv.NewJSONRequest(s.t, method, s.base+path, body)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return testenv.DoJSON(s.t, req)
}

// register creates an account through the API from ip.
func (s *server) register(ip, username, email, password string) {
	s.t.Helper()
	if code, out := s.callFrom(ip, "POST", "/api/auth/local/register", "", map[string]any{"username": username, "email": email, "password": password}); code != 200 {
		s.t.Fatalf("register %s: %d %v", username, code, out)
	}
}

// settings reads the stored settings through the admin API.
func (s *server) settings(token string) map[string]any {
	s.t.Helper()
	code, _, body := s.call("GET", "/api/admin/settings", token, nil)
	data, _ := body["data"].(map[string]any)
	if code != 200 || data == nil {
		s.t.Fatalf("settings: %d %v", code, body)
	}
	return data
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func errReason(body map[string]any) string { return testenv.ErrorReason(body) }

// Browsers' user agents, as the dashboard shows them.
const (
	uaChromeMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxWin   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaFirefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
)
