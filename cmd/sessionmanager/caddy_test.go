package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// caddyfile is the forward_auth configuration of docs/INTEGRATIONS.md, with
// the test's addresses (plain http on a loopback port, no admin endpoint).
const caddyfile = `{
	admin off
	auto_https off
}
http://{{listen}} {
	route {
		request_header -X-User-Id
		request_header -X-User-Email
		request_header -X-Session-Id

		forward_auth {{sessionmanager}} {
			uri /api/auth/verify
			copy_headers X-User-Id X-User-Email X-Session-Id
		}
		reverse_proxy {{upstream}}
	}
}
`

// startCaddy runs a real Caddy (Debian's package) in front of upstream.
func startCaddy(t *testing.T, sessionmanager, upstream string) string {
	t.Helper()
	bin, err := exec.LookPath("caddy")
	if err != nil {
		if testenv.Required() {
			t.Fatal("caddy is not installed, and services are required here (scripts/services.sh installs it)")
		}
		t.Skip("caddy is not installed: skipping (apt-get install -y caddy to run this test)")
	}
	dir := t.TempDir()
	listen := freePort(t)
	conf := strings.NewReplacer("{{listen}}", listen, "{{sessionmanager}}", strings.TrimPrefix(sessionmanager, "http://"),
		"{{upstream}}", strings.TrimPrefix(upstream, "http://")).Replace(caddyfile)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	return runProxy(t, "caddy", cmd, listen, func() string { return "" })
}

// TestCaddyForwardAuth: the documented Caddy configuration in front of an
// app: a valid session passes with its identity headers (a forged one
// from the client is stripped), no token is refused, and a force-logged-out
// session is refused on its very next request.
func TestCaddyForwardAuth(t *testing.T) {
	s := startServer(t, nil)
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-User-Id"))
		mu.Unlock()
		fmt.Fprintf(w, "hello %s", r.Header.Get("X-User-Id"))
	}))
	defer upstream.Close()
	proxy := startCaddy(t, s.base, upstream.URL)

	reg := s.register(t, "carla")
	jwt, uid := str(reg, "jwt"), str(reg["user"].(map[string]any), "id")
	sid := str(reg["session"].(map[string]any), "id")
	get := func(bearer, forgedUser string) (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", proxy+"/private", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if forgedUser != "" {
			req.Header.Set("X-User-Id", forgedUser)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	calls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	if code, _ := get(jwt, "admin"); code != 200 {
		t.Fatalf("valid session through caddy: %d", code)
	}
	if c := calls(); len(c) != 1 || c[0] != uid {
		t.Fatalf("upstream saw X-User-Id %v, want [%s] (a forged header must be replaced)", c, uid)
	}
	if code, _ := get("", "admin"); code != 401 {
		t.Fatalf("no token through caddy: %d", code)
	}
	write := s.adminToken("write")
	if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
		t.Fatalf("terminate: %d %v", code, body)
	}
	code, h := get(jwt, "")
	if code != 401 || h.Get("X-Session-Terminated-Reason") != "manual" {
		t.Fatalf("force-logged-out session through caddy: %d %q", code, h.Get("X-Session-Terminated-Reason"))
	}
	if n := len(calls()); n != 1 {
		t.Fatalf("refused requests reached the upstream (%d calls)", n)
	}
}
