package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// adminToken creates an admin API token through the CLI, on the server's store.
func (s *server) adminToken(scope string) string {
	s.t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), []string{"admin", "create-token", "--name", "t-" + scope, "--scope", scope},
		func(k string) string { return s.env[k] }, nil, &out, io.Discard)
	if err != nil {
		s.t.Fatalf("create-token: %v", err)
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "msm_") {
		s.t.Fatalf("token %q", tok)
	}
	return tok
}

func eachServer(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, startServer(t, nil)) })
	t.Run("postgres", func(t *testing.T) { fn(t, startServer(t, postgresEnv(t))) })
}

func TestAuthFlowOverHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		code, _, reg := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "alice", "email": "Alice@Example.com", "password": "correct horse battery"})
		if code != 200 {
			t.Fatalf("register: %d %v", code, reg)
		}
		jwt, refresh := str(reg, "jwt"), str(reg, "refreshToken")
		user := must(t, reg["user"].(map[string]any), reg["user"] != nil, "user")
		if user["email"] != "alice@example.com" || user["provider"] != "local" {
			t.Errorf("user shape: %v", user)
		}
		sess := reg["session"].(map[string]any)
		if str(sess, "id") == "" || str(sess, "ip") != "127.0.0.1" {
			t.Errorf("session shape: %v", sess)
		}
		// Duplicate registration.
		if code, _, body := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "alice", "email": "alice@example.com", "password": "correct horse battery"}); code != 409 {
			t.Errorf("duplicate register: %d %v", code, body)
		}
		code, _, me := s.call("GET", "/api/users/me", jwt, nil)
		if code != 200 || me["username"] != "alice" {
			t.Fatalf("me: %d %v", code, me)
		}
		code, _, login := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "alice", "password": "correct horse battery"})
		if code != 200 {
			t.Fatalf("login: %d %v", code, login)
		}
		code, _, mine := s.call("GET", "/api/sessions/me", str(login, "jwt"), nil)
		list, _ := mine["data"].([]any)
		if code != 200 || len(list) != 2 {
			t.Fatalf("sessions/me: %d %v", code, mine)
		}
		current := 0
		for _, x := range list {
			if x.(map[string]any)["current"] == true {
				current++
			}
		}
		if current != 1 {
			t.Errorf("%d sessions flagged current", current)
		}
		code, _, ref := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": refresh})
		if code != 200 || str(ref, "refreshToken") == refresh || str(ref, "jwt") == "" {
			t.Fatalf("refresh: %d %v", code, ref)
		}
		// logout-others from the second login ends the first session.
		if code, _, body := s.call("POST", "/api/sessions/me/logout-others", str(login, "jwt"), nil); code != 200 || body["ended"] != float64(1) {
			t.Fatalf("logout-others: %d %v", code, body)
		}
		code, h, body := s.call("GET", "/api/users/me", str(ref, "jwt"), nil)
		if code != 401 || h.Get("X-Session-Terminated-Reason") != "manual" || errReason(body) != "manual" {
			t.Errorf("ended session: %d %q %v", code, h.Get("X-Session-Terminated-Reason"), body)
		}
		code, h, _ = s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(ref, "refreshToken")})
		if code != 401 || h.Get("X-Session-Terminated-Reason") != "manual" {
			t.Errorf("ended session refresh: %d", code)
		}
		// Change password keeps the current session.
		code, _, body = s.call("POST", "/api/auth/change-password", str(login, "jwt"), map[string]any{"currentPassword": "correct horse battery", "password": "new horse battery", "passwordConfirmation": "new horse battery"})
		if code != 200 {
			t.Fatalf("change-password: %d %v", code, body)
		}
		if code, _, _ := s.call("GET", "/api/users/me", str(login, "jwt"), nil); code != 200 {
			t.Errorf("current session after password change: %d", code)
		}
		// Logout.
		if code, _, _ := s.call("POST", "/api/auth/logout", str(login, "jwt"), nil); code != 200 {
			t.Errorf("logout: %d", code)
		}
		code, h, _ = s.call("GET", "/api/users/me", str(login, "jwt"), nil)
		if code != 401 || h.Get("X-Session-Terminated-Reason") != "logout" {
			t.Errorf("after logout: %d %q", code, h.Get("X-Session-Terminated-Reason"))
		}
		if code, _, _ := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(login, "refreshToken")}); code != 401 {
			t.Errorf("refresh after logout: %d", code)
		}
	})
}

func TestAdminForceLogoutOverHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		_, _, reg := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "bob", "email": "bob@example.com", "password": "correct horse battery"})
		sid := str(reg["session"].(map[string]any), "id")
		uid := str(reg["user"].(map[string]any), "id")
		read, write := s.adminToken("read"), s.adminToken("write")

		if code, _, _ := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", "", nil); code != 401 {
			t.Errorf("no token: %d", code)
		}
		if code, _, _ := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", str(reg, "jwt"), nil); code != 401 {
			t.Errorf("user token on admin API: %d", code)
		}
		if code, _, _ := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", "msm_forged0000000000000000000000000000000000000", nil); code != 401 {
			t.Errorf("forged admin token: %d", code)
		}
		if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", read, nil); code != 403 {
			t.Errorf("read scope terminating: %d %v", code, body)
		}
		if code, _, body := s.call("GET", "/api/admin/sessions?user="+uid, read, nil); code != 200 || len(body["data"].([]any)) != 1 {
			t.Errorf("list with read scope: %d %v", code, body)
		}
		code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil)
		if code != 200 {
			t.Fatalf("terminate: %d %v", code, body)
		}
		code, h, _ := s.call("GET", "/api/auth/verify", str(reg, "jwt"), nil)
		if code != 401 || h.Get("X-Session-Terminated-Reason") != "manual" {
			t.Errorf("verify after force logout: %d %q", code, h.Get("X-Session-Terminated-Reason"))
		}
		if code, _, _ := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(reg, "refreshToken")}); code != 401 {
			t.Errorf("refresh after force logout: %d", code)
		}
		// Block: refuses logins; unblock restores.
		_, _, l2 := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "bob", "password": "correct horse battery"})
		if code, _, _ := s.call("POST", "/api/admin/users/"+uid+"/block", write, nil); code != 200 {
			t.Fatalf("block: %d", code)
		}
		if code, h, _ := s.call("GET", "/api/auth/verify", str(l2, "jwt"), nil); code != 401 || h.Get("X-Session-Terminated-Reason") != "blocked" {
			t.Errorf("verify after block: %d", code)
		}
		code, _, body = s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "bob", "password": "correct horse battery"})
		if code != 403 || errReason(body) != "user_blocked" {
			t.Errorf("blocked login: %d %v", code, body)
		}
		s.call("POST", "/api/admin/users/"+uid+"/unblock", write, nil)
		_, _, l3 := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "bob", "password": "correct horse battery"})
		if code, h, _ := s.call("GET", "/api/auth/verify", str(l3, "jwt"), nil); code != 200 || h.Get("X-User-Id") != uid || h.Get("X-User-Email") != "bob@example.com" {
			t.Errorf("verify after unblock: %d %v", code, h)
		}
		if code, _, body := s.call("POST", "/api/admin/users/"+uid+"/terminate-all", write, nil); code != 200 || body["ended"] != float64(1) {
			t.Errorf("terminate-all: %d %v", code, body)
		}
		if code, _, _ := s.call("POST", "/api/admin/users/nobody/terminate-all", write, nil); code != 404 {
			t.Errorf("terminate-all unknown user: %d", code)
		}
		if code, _, _ := s.call("POST", "/api/admin/sessions/nosuch/terminate", write, nil); code != 404 {
			t.Errorf("terminate unknown session: %d", code)
		}
		// The audit log saw the admin's force logout.
		code, _, audit := s.call("GET", "/api/admin/audit?type=session.ended&session="+sid, read, nil)
		events, _ := audit["data"].([]any)
		if code != 200 || len(events) != 1 || events[0].(map[string]any)["actorType"] != "admin" {
			t.Errorf("audit of the force logout: %d %v", code, audit)
		}
	})
}

// TestBadInputNever500 sends what a broken or hostile client sends.
func TestBadInputNever500(t *testing.T) {
	s := startServer(t, nil)
	_, _, reg := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "carl", "email": "carl@example.com", "password": "correct horse battery"})
	write := s.adminToken("write")
	huge := `{"identifier":"` + strings.Repeat("a", 2<<20) + `","password":"x"}`
	cases := []struct {
		method, path, bearer string
		body                 any
		want                 int
	}{
		{"POST", "/api/auth/local", "", `{bad json`, 400},
		{"POST", "/api/auth/local", "", ``, 400},
		{"POST", "/api/auth/local", "", `[]`, 400},
		{"POST", "/api/auth/local", "", `{"identifier": 5, "password": true}`, 400},
		{"POST", "/api/auth/local", "", `{"identifier": "carl"}`, 400},
		{"POST", "/api/auth/local", "", huge, 400},
		{"POST", "/api/auth/local", "", `{"identifier":"carl","password":"x"} {"again":1}`, 400},
		{"POST", "/api/auth/local/register", "", `{"username":"x","email":"not an email","password":""}`, 400},
		{"POST", "/api/auth/refresh", "", `{"refreshToken": 12}`, 400},
		{"POST", "/api/auth/refresh", "", `{}`, 400},
		{"POST", "/api/auth/refresh", "", `{"refreshToken": "forged"}`, 401},
		{"POST", "/api/auth/refresh", "", `{"refreshToken": "` + strings.Repeat("A", 43) + `"}`, 401},
		{"GET", "/api/users/me", "", nil, 401},
		{"GET", "/api/users/me", "garbage", nil, 401},
		{"GET", "/api/users/me", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwic2lkIjoieSJ9.", nil, 401},
		{"GET", "/api/users/me", str(reg, "jwt") + "x", nil, 401},
		{"GET", "/api/admin/sessions?status=bogus&limit=9999&ip=1.2.3&scoreBelow=x&from=yesterday", write, nil, 400},
		{"GET", "/api/admin/sessions?q=%27%3B+DROP+TABLE+sessions%3B+--&country=DE", write, nil, 200},
		{"GET", "/api/admin/sessions?user=%27+OR+1%3D1+--&ip=10.0.0.0%2F8", write, nil, 200},
		{"GET", "/api/admin/sessions?cursor=%27%22%00garbage", write, nil, 400},
		{"PUT", "/api/admin/settings", write, `{"scoreThreshold":"high","allowedCountries":["XX"]}`, 400},
		{"PUT", "/api/admin/settings", write, `{"unknownKey":1}`, 400},
		{"PUT", "/api/admin/settings", write, `not json`, 400},
		{"POST", "/api/auth/change-password", str(reg, "jwt"), `{"currentPassword":"x"}`, 400},
		{"GET", "/api/nope", "", nil, 404},
	}
	for _, c := range cases {
		code, _, body := s.call(c.method, c.path, c.bearer, c.body)
		if code != c.want {
			b := c.body
			if s, ok := b.(string); ok && len(s) > 60 {
				b = s[:60] + "..."
			}
			t.Errorf("%s %s %v: got %d want %d (%v)", c.method, c.path, b, code, c.want, body)
		}
		if code >= 500 {
			t.Errorf("%s %s: server error %d", c.method, c.path, code)
		}
		if code >= 400 {
			e, _ := body["error"].(map[string]any)
			if e == nil || str(e, "message") == "" {
				t.Errorf("%s %s: error without a message: %v", c.method, c.path, body)
			}
		}
	}
	// Field names are reported.
	_, _, body := s.call("GET", "/api/admin/sessions?status=bogus&limit=9999", write, nil)
	f := fieldsOf(body)
	if f["status"] == nil || f["limit"] == nil {
		t.Errorf("fields not named: %v", body)
	}
	// The sessions table survived the injection attempt.
	if code, _, _ := s.call("GET", "/api/users/me", str(reg, "jwt"), nil); code != 200 {
		t.Errorf("after injection attempts: %d", code)
	}
}

// TestRefreshCookieMode: with SM_REFRESH_COOKIE the refresh token also
// travels as an HttpOnly cookie scoped to /api/auth.
func TestRefreshCookieMode(t *testing.T) {
	s := startServer(t, map[string]string{"SM_REFRESH_COOKIE": "msm_refresh"})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path, body, bearer string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, reg := post("/api/auth/local/register", `{"username":"kim","email":"kim@example.com","password":"correct horse battery"}`, "")
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "msm_refresh" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Path != "/api/auth" || cookie.Value != str(reg, "refreshToken") || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("refresh cookie: %+v", cookie)
	}
	// Refresh with the cookie alone (no body): rotates, and the cookie follows.
	resp, out := post("/api/auth/refresh", "", "")
	if resp.StatusCode != 200 || str(out, "refreshToken") == cookie.Value {
		t.Fatalf("cookie refresh: %d %v", resp.StatusCode, out)
	}
	if resp, _ := post("/api/auth/logout", "", str(out, "jwt")); resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	u, _ := url.Parse(s.base + "/api/auth/refresh")
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "msm_refresh" {
			t.Errorf("logout left the refresh cookie: %+v", ck)
		}
	}
	if resp, _ := post("/api/auth/refresh", `{"refreshToken":"`+str(out, "refreshToken")+`"}`, ""); resp.StatusCode != 401 {
		t.Errorf("refresh after logout: %d", resp.StatusCode)
	}
}
