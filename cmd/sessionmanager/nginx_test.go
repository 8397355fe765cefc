package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// nginxConf is the forward-auth configuration documented in
// docs/INTEGRATIONS.md, with the test's ports and paths.
const nginxConf = `daemon off;
master_process off;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path {{dir}}/body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;
    server {
        listen {{listen}};
        location = /_msm_verify {
            internal;
            proxy_pass {{sessionmanager}}/api/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;   # DPoP: the URL the client's proof names
            proxy_set_header X-Original-Method $request_method;
        }
        # A route that demands a recent, multi-factor proof (step-up):
        # RFC 9470's WWW-Authenticate challenge is handed to the client.
        location = /_msm_verify_recent {
            internal;
            proxy_pass {{sessionmanager}}/api/auth/verify?max_age=300&acr_values=2;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;   # DPoP: the URL the client's proof names
        }
        location /sensitive/ {
            auth_request /_msm_verify_recent;
            auth_request_set $msm_user $upstream_http_x_user_id;
            auth_request_set $msm_www $upstream_http_www_authenticate;
            add_header WWW-Authenticate $msm_www always;
            proxy_set_header X-User-Id $msm_user;
            proxy_set_header Authorization "";
            proxy_pass {{upstream}};
        }
        location / {
            auth_request /_msm_verify;
            auth_request_set $msm_user $upstream_http_x_user_id;
            auth_request_set $msm_session $upstream_http_x_session_id;
            auth_request_set $msm_reason $upstream_http_x_session_terminated_reason;
            add_header X-Session-Terminated-Reason $msm_reason always;
            proxy_set_header X-User-Id $msm_user;
            proxy_set_header X-Session-Id $msm_session;
            proxy_set_header Authorization "";
            proxy_pass {{upstream}};
        }
    }
}
`

// startNginx runs a real nginx (a child process with its own prefix in a
// temp dir) in front of upstream, asking sessionmanager for every request.
func startNginx(t *testing.T, sessionmanager, upstream string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, statErr := os.Stat(p); statErr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if testenv.Required() {
			t.Fatal("nginx is not installed, and services are required here (scripts/services.sh installs it)")
		}
		t.Skip("nginx is not installed: skipping (apt-get install -y nginx to run this test)")
	}
	dir := t.TempDir()
	listen := freePort(t)
	conf := strings.NewReplacer("{{dir}}", dir, "{{listen}}", listen, "{{sessionmanager}}", sessionmanager, "{{upstream}}", upstream).Replace(nginxConf)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	return runProxy(t, "nginx", cmd, listen, func() string {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(log)
	})
}
