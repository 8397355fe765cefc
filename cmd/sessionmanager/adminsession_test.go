package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/token"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// adminSignIn signs in to the dashboard of s as the first admin and returns
// the answer's cookies.
func (s *server) adminSignIn() []*http.Cookie {
	s.t.Helper()
	form := url.Values{"email": {"admin@localhost"}, "password": {s.env["SM_ADMIN_PASSWORD"]}}
	req, _ := http.NewRequest("POST", s.base+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/" {
		s.t.Fatalf("dashboard sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp.Cookies()
}

// dashboard returns the status of GET /admin/ on s with the admin cookie.
func (s *server) dashboard(cookie string) int {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/admin/", nil)
	req.AddCookie(&http.Cookie{Name: "sm_admin", Value: cookie})
	resp, err := noRedirect.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func adminCookie(t *testing.T, cs []*http.Cookie) *http.Cookie {
	t.Helper()
	for _, c := range cs {
		if c.Name == "sm_admin" && c.Value != "" {
			return c
		}
	}
	t.Fatal("no sm_admin cookie")
	return nil
}

// TestAdminSessionTerminateReachesEveryInstance: a dashboard sign-in ended
// through the admin API of instance A is refused by B and C (which had it
// cached as live) at once: the bus (Redis pub/sub, or Postgres NOTIFY
// without Redis) invalidates their
// caches, well inside the 2 s cache TTL that bounds a lost message.
func TestAdminSessionTerminateReachesEveryInstance(t *testing.T) {
	t.Run("redis", func(t *testing.T) { testAdminSessionTerminate(t, true) })
	t.Run("postgres-notify", func(t *testing.T) { testAdminSessionTerminate(t, false) })
}

func testAdminSessionTerminate(t *testing.T, withRedis bool) {
	nodes, _ := threeInstances(t, withRedis)
	a, b, c := nodes[0], nodes[1], nodes[2]
	write := a.adminToken("write")
	read := a.adminToken("read")
	for trial := range 5 {
		cookie := adminCookie(t, b.adminSignIn()).Value
		for _, n := range nodes {
			if got := n.dashboard(cookie); got != http.StatusOK {
				t.Fatalf("trial %d: instance %s refuses a live sign-in: %d", trial, n.base, got)
			}
		}
		code, _, list := a.call("GET", "/api/admin/admin-sessions", read, nil)
		data, _ := list["data"].([]any)
		if code != 200 || len(data) != 1 {
			t.Fatalf("trial %d: list: %d %v", trial, code, list)
		}
		row := data[0].(map[string]any)
		if _, leaked := row["hash"]; leaked || strings.Contains(toJSON(list), cookie) {
			t.Fatalf("the list shows the token or its hash: %v", row)
		}
		if code, _, body := a.call("DELETE", "/api/admin/admin-sessions/"+str(row, "id"), write, nil); code != http.StatusNoContent {
			t.Fatalf("trial %d: terminate: %d %v", trial, code, body)
		}
		start := time.Now()
		for _, n := range []*server{b, c, a} {
			for n.dashboard(cookie) != http.StatusSeeOther {
				if time.Since(start) > time.Second {
					t.Fatalf("trial %d: %s still opens the dashboard 1s after the termination (the bus did not reach it)", trial, n.base)
				}
			}
		}
		t.Logf("trial %d: every instance refused after %v", trial, time.Since(start))
		if code, _, _ := a.call("DELETE", "/api/admin/admin-sessions/"+str(row, "id"), write, nil); code != http.StatusNotFound {
			t.Fatalf("ending an ended sign-in: %d, want 404", code)
		}
	}
	if code, _, _ := a.call("DELETE", "/api/admin/admin-sessions/nope", read, nil); code != http.StatusForbidden {
		t.Fatalf("read scope may not terminate: %d", code)
	}
	// The termination is in the audit log.
	code, _, audit := a.call("GET", "/api/admin/audit?type=admin.action&limit=100", read, nil)
	if code != 200 || !strings.Contains(toJSON(audit), "admin_session.ended") || !strings.Contains(toJSON(audit), "admin.sign_in") {
		t.Fatalf("audit log lacks the sign-in or the termination: %d", code)
	}
}

// TestProductionCookiesAlwaysSecure: with SM_ENV=production every cookie is
// Secure even when the request came over plain HTTP from a proxy on
// loopback that sends no X-Forwarded-Proto (the dashboard cookie lacked it).
func TestProductionCookiesAlwaysSecure(t *testing.T) {
	s := startServer(t, map[string]string{"SM_ENV": "production", "SESSION_ENCRYPTION_KEY": token.GenerateKey(), "SM_REFRESH_COOKIE": "sm_refresh"})
	var all []*http.Cookie
	signIn := s.adminSignIn()
	all = append(all, signIn...)
	cookie := adminCookie(t, signIn).Value
	// Sign-out clears the cookie with a Set-Cookie too.
	req, _ := http.NewRequest("GET", s.base+"/admin/settings", nil)
	req.AddCookie(&http.Cookie{Name: "sm_admin", Value: cookie})
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, rest, _ := strings.Cut(string(raw), `<meta name="csrf-token" content="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	if csrf == "" {
		t.Fatalf("no CSRF token on the settings page (%d)", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", s.base+"/admin/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: "sm_admin", Value: cookie})
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("sign-out: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	all = append(all, resp.Cookies()...)
	// The API's refresh cookie, set and cleared.
	reg := s.send("", "POST", "/api/auth/local/register", "", map[string]any{"username": "cookies", "email": "cookies@example.com", "password": "correct horse battery"}, nil)
	if reg.code != 200 {
		t.Fatalf("register: %d %v", reg.code, reg.body)
	}
	all = append(all, (&http.Response{Header: reg.header}).Cookies()...)
	out := s.send("", "POST", "/api/auth/logout", str(reg.body, "jwt"), map[string]any{}, nil)
	all = append(all, (&http.Response{Header: out.header}).Cookies()...)

	names := map[string]bool{}
	for _, c := range all {
		names[c.Name] = true
		if !c.Secure || !c.HttpOnly {
			t.Errorf("production cookie %s (value %t) over plain HTTP: Secure=%v HttpOnly=%v", c.Name, c.Value != "", c.Secure, c.HttpOnly)
		}
	}
	if !names["sm_admin"] || !names["sm_refresh"] {
		t.Fatalf("the test did not see both cookies: %v", names)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAdminTOTPChangeEndsSignInsEverywhere: `sessionmanager admin totp`
// (another process) ends the admin's dashboard sign-ins; running instances
// (PostgreSQL + Redis) refuse the cookie at once, and the audit log says so.
func TestAdminTOTPChangeEndsSignInsEverywhere(t *testing.T) {
	nodes, _ := threeInstances(t, true)
	a, b := nodes[0], nodes[1]
	cookie := adminCookie(t, a.adminSignIn()).Value
	if got := b.dashboard(cookie); got != http.StatusOK {
		t.Fatalf("live sign-in refused: %d", got)
	}
	var stderr strings.Builder
	if err := run(t.Context(), []string{"admin", "totp", "--email", "admin@localhost"}, func(k string) string { return a.env[k] },
		nil, io.Discard, &stderr); err != nil {
		t.Fatalf("admin totp: %v", err)
	}
	if !strings.Contains(stderr.String(), "1 dashboard sign-in(s) of admin@localhost ended") {
		t.Fatalf("admin totp output: %q", stderr.String())
	}
	start := time.Now()
	for _, n := range []*server{b, a} {
		for n.dashboard(cookie) != http.StatusSeeOther {
			if time.Since(start) > time.Second {
				t.Fatalf("%s still opens the dashboard 1s after the TOTP change", n.base)
			}
		}
	}
	read := a.adminToken("read")
	_, _, audit := a.call("GET", "/api/admin/audit?type=admin.action&limit=100", read, nil)
	if !strings.Contains(toJSON(audit), "admin.totp_changed") || !strings.Contains(toJSON(audit), "totp_changed") {
		t.Fatalf("the TOTP change is not in the audit log: %s", toJSON(audit))
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// dashboardPost signs in to the dashboard of s and posts form to path with
// the page's anti-forgery token, as the admin's browser would; it returns
// the answer's status.
func (s *server) dashboardPost(path string, form url.Values) int {
	s.t.Helper()
	status, _ := s.dashboardPostPage(path, form)
	return status
}

// dashboardPostPage is dashboardPost that also returns the answer's page.
func (s *server) dashboardPostPage(path string, form url.Values) (int, string) {
	s.t.Helper()
	cookie := adminCookie(s.t.(*testing.T), s.adminSignIn())
	req, _ := http.NewRequest("GET", s.base+"/admin/account", nil)
	req.AddCookie(cookie)
	resp, err := noRedirect.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		s.t.Fatalf("no anti-forgery token on the account page (%d)", resp.StatusCode)
	}
	form.Set("csrf", string(m[1]))
	req, _ = http.NewRequest("POST", s.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(cookie)
	if resp, err = noRedirect.Do(req); err != nil {
		s.t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(page)
}

// TestAdminActionAuditedOnceByEitherFace: the same admin action (end all of
// a user's sessions) done through the admin API and through the dashboard
// records, each time, exactly one admin.action event, written by the core
// and naming the admin: the API token (token:<name> and its id), the
// dashboard's admin (id and email). The sessions it ends name them too.
func TestAdminActionAuditedOnceByEitherFace(t *testing.T) {
	s := startServer(t, nil)
	write, read := s.adminToken("write"), s.adminToken("read")
	tokens := s.listAll("/api/admin/tokens", read)
	tokenID := ""
	for _, tk := range tokens {
		if str(tk, "name") == "t-write" {
			tokenID = str(tk, "id")
		}
	}
	viaAPI := idOf(s.signUp("ann", "ann@example.com", ""), "user")
	viaDashboard := idOf(s.signUp("ben", "ben@example.com", ""), "user")

	if code, _, body := s.call("POST", "/api/admin/users/"+viaAPI+"/terminate-all", write, nil); code != 200 || body["ended"] != 1.0 {
		t.Fatalf("API terminate-all: %d %v", code, body)
	}
	if code := s.dashboardPost("/admin/users/"+viaDashboard+"/terminate-all", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("dashboard terminate-all: %d", code)
	}

	for _, c := range []struct {
		face, user, actorID string
		data                map[string]string
	}{
		{"API", viaAPI, "token:t-write", map[string]string{"tokenId": tokenID}},
		{"dashboard", viaDashboard, "", map[string]string{"adminEmail": "admin@localhost"}},
	} {
		var actions, ended []map[string]any
		for _, e := range s.listAll("/api/admin/audit?user="+c.user, read) {
			switch str(e, "type") {
			case "admin.action":
				actions = append(actions, e)
			case "session.ended":
				ended = append(ended, e)
			}
		}
		if len(actions) != 1 || len(ended) != 1 {
			t.Fatalf("%s: %d admin actions and %d ended sessions recorded, want 1 and 1: %v", c.face, len(actions), len(ended), actions)
		}
		for _, e := range []map[string]any{actions[0], ended[0]} {
			data, _ := e["data"].(map[string]any)
			if str(e, "actorType") != "admin" || (c.actorID != "" && str(e, "actorId") != c.actorID) || str(e, "actorId") == "" {
				t.Errorf("%s: %s event names %s %q", c.face, str(e, "type"), str(e, "actorType"), str(e, "actorId"))
			}
			for k, v := range c.data {
				if str(data, k) != v {
					t.Errorf("%s: %s event data %s = %q, want %q (%v)", c.face, str(e, "type"), k, str(data, k), v, data)
				}
			}
		}
		if data, _ := actions[0]["data"].(map[string]any); str(data, "action") != "user.terminate_all" || data["ended"] != 1.0 {
			t.Errorf("%s: admin action %v", c.face, data)
		}
	}
}
