package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	# A route that demands a recent, multi-factor proof (step-up); Caddy
	# hands the 401 and its WWW-Authenticate challenge to the client.
	route /sensitive/* {
		request_header -X-User-Id
		forward_auth {{sessionmanager}} {
			uri /api/auth/verify?max_age=300&acr_values=2
			copy_headers X-User-Id
		}
		reverse_proxy {{upstream}}
	}
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
