package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestForwardAuthProxies runs the documented forward-auth configurations of
// real proxies (nginx auth_request, Caddy forward_auth) in front of an app:
// a valid session passes with its identity (an X-User-Id forged by the
// client is replaced), no token and a bad token are refused without
// reaching the app, and a force-logged-out session is refused on its very
// next request with the reason header.
func TestForwardAuthProxies(t *testing.T) {
	for _, p := range []struct {
		name  string
		start func(t *testing.T, sessionmanager, upstream string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(p.name, func(t *testing.T) {
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
			proxy := p.start(t, s.base, upstream.URL)

			reg := s.register(t, "dave")
			jwt, uid := str(reg, "jwt"), str(reg["user"].(map[string]any), "id")
			sid := str(reg["session"].(map[string]any), "id")
			get := func(bearer string) (int, http.Header) {
				t.Helper()
				req, _ := http.NewRequest("GET", proxy+"/private/page", nil)
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				req.Header.Set("X-User-Id", "forged-admin")
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

			if code, _ := get(jwt); code != 200 {
				t.Fatalf("valid session: %d", code)
			}
			if c := calls(); len(c) != 1 || c[0] != uid {
				t.Fatalf("upstream saw X-User-Id %v, want [%s]", c, uid)
			}
			for _, bad := range []string{"", jwt + "x"} {
				if code, _ := get(bad); code != 401 {
					t.Fatalf("token %q...: %d, want 401", bad[:min(len(bad), 8)], code)
				}
			}
			write := s.adminToken("write")
			if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
				t.Fatalf("terminate: %d %v", code, body)
			}
			code, h := get(jwt)
			if code != 401 || h.Get("X-Session-Terminated-Reason") != "manual" {
				t.Fatalf("force-logged-out session: %d, reason %q", code, h.Get("X-Session-Terminated-Reason"))
			}
			if n := len(calls()); n != 1 {
				t.Fatalf("refused requests reached the upstream (%d calls)", n)
			}
		})
	}
}
