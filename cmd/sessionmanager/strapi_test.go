package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// These tests pin the Strapi 5 users-permissions shapes (jwtManagement
// "refresh", @strapi/plugin-users-permissions 5.54.0: controllers/auth.js,
// @strapi/utils sanitizeSessionEntry, and the messages its API tests pin)
// on the real server.

const chromeMacUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// strapiLogin signs in as a Chrome on macOS browser, with deviceId when
// not empty, and returns the answer.
func (s *server) strapiLogin(t *testing.T, identifier, deviceID string) map[string]any {
	t.Helper()
	body := map[string]any{"identifier": identifier, "password": "correct horse battery"}
	if deviceID != "" {
		body["deviceId"] = deviceID
	}
	code, _, res := s.callWith("POST", "/api/auth/local", "", map[string]string{"User-Agent": chromeMacUA}, body)
	if code != 200 || str(res, "jwt") == "" || str(res, "refreshToken") == "" || res["user"] == nil {
		t.Fatalf("login %s: %d %v", identifier, code, res)
	}
	return res
}

func sessionIDOf(login map[string]any) string { return str(login["session"].(map[string]any), "id") }

// strapiError checks a Strapi error answer: status, error.name and
// error.message, and data null.
func strapiError(t *testing.T, what string, code int, body map[string]any, status int, name, message string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	if code != status || e["status"] != float64(status) || e["name"] != name || e["message"] != message || body["data"] != nil {
		t.Errorf("%s: got %d %v; want %d %s %q", what, code, body, status, name, message)
	}
}

func TestStrapiSessionRoutes(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		for _, name := range []string{"alice", "bob"} {
			if code, _, body := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": name, "email": name + "@example.com", "password": "correct horse battery"}); code != 200 {
				t.Fatalf("register %s: %d %v", name, code, body)
			}
		}
		a1 := s.strapiLogin(t, "alice@example.com", "device-a")
		a2 := s.strapiLogin(t, "alice", "device-b")
		a3 := s.strapiLogin(t, "alice", "device-b")
		a4 := s.strapiLogin(t, "alice", "")
		bob := s.strapiLogin(t, "bob", "device-a")
		if got := str(a1["session"].(map[string]any), "deviceId"); got != "device-a" {
			t.Errorf("login answer's session deviceId %q", got)
		}

		// A bad deviceId is a 400 naming the field, before any session.
		for _, bad := range []any{strings.Repeat("x", 129), "tab\there", 42} {
			code, _, body := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "alice", "password": "correct horse battery", "deviceId": bad})
			if code != 400 || fieldsOf(body)["deviceId"] == nil {
				t.Errorf("deviceId %v: %d %v", bad, code, body)
			}
		}

		// The admin's session record shows the device id.
		read := s.adminToken("read")
		if code, _, body := s.call("GET", "/api/admin/sessions/"+sessionIDOf(a1), read, nil); code != 200 || body["data"].(map[string]any)["deviceId"] != "device-a" {
			t.Errorf("admin session record: %d %v", code, body)
		}

		// GET /api/auth/sessions.
		code, _, body := s.call("GET", "/api/auth/sessions", "", nil)
		strapiError(t, "sessions without a token", code, body, 401, "UnauthorizedError", "Missing authentication")
		code, _, body = s.call("GET", "/api/auth/sessions", str(a1, "jwt"), nil)
		list, _ := body["data"].([]any)
		if code != 200 || len(list) != 5 { // the sign-up's session and a1..a4
			t.Fatalf("sessions: %d %v", code, body)
		}
		first := list[0].(map[string]any)
		if first["id"] != sessionIDOf(a1) || first["current"] != true || first["deviceId"] != "device-a" || first["deviceName"] != "Chrome on macOS" {
			t.Errorf("current session first, in Strapi's shape: %v", first)
		}
		allowed := []string{"id", "deviceId", "deviceName", "current", "loginAt", "lastActiveAt"}
		ids := map[string]bool{}
		for _, x := range list {
			entry := x.(map[string]any)
			ids[str(entry, "id")] = true
			for k := range entry {
				if !slices.Contains(allowed, k) {
					t.Errorf("session entry has %q (Strapi's has no ip, token or user id): %v", k, entry)
				}
			}
			for _, k := range []string{"loginAt", "lastActiveAt"} {
				if _, err := time.Parse(time.RFC3339Nano, str(entry, k)); err != nil {
					t.Errorf("%s %q: %v", k, str(entry, k), err)
				}
			}
			if entry["id"] != sessionIDOf(a1) && entry["current"] != false {
				t.Errorf("only the current session is flagged: %v", entry)
			}
		}
		if ids[sessionIDOf(bob)] {
			t.Error("another user's session is listed")
		}

		// DELETE /api/auth/sessions/{sessionId}.
		code, _, body = s.call("DELETE", "/api/auth/sessions/unknown-session-id", str(a1, "jwt"), nil)
		strapiError(t, "revoke an unknown session", code, body, 404, "NotFoundError", "Session not found")
		code, _, body = s.call("DELETE", "/api/auth/sessions/"+sessionIDOf(bob), str(a1, "jwt"), nil)
		strapiError(t, "revoke another user's session", code, body, 404, "NotFoundError", "Session not found")
		if code, _, body := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(bob, "refreshToken")}); code != 200 {
			t.Fatalf("the other user's session survives: %d %v", code, body)
		}
		code, _, body = s.call("DELETE", "/api/auth/sessions/"+sessionIDOf(a4), str(a1, "jwt"), nil)
		if data, ok := body["data"].(map[string]any); code != 200 || !ok || len(data) != 0 {
			t.Errorf("revoke: %d %v; want 200 {data:{}}", code, body)
		}
		code, h, body := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(a4, "refreshToken")})
		strapiError(t, "refresh of a revoked session", code, body, 401, "UnauthorizedError", "Invalid refresh token")
		if h.Get("X-Session-Terminated-Reason") != "manual" || errReason(body) != "manual" {
			t.Errorf("the reason stays in the header and details: %q %v", h.Get("X-Session-Terminated-Reason"), body)
		}
		code, _, body = s.call("DELETE", "/api/auth/sessions/"+sessionIDOf(a4), str(a1, "jwt"), nil)
		strapiError(t, "revoke an ended session", code, body, 404, "NotFoundError", "Session not found")
		if _, _, body := s.call("GET", "/api/auth/sessions", str(a1, "jwt"), nil); len(body["data"].([]any)) != 4 {
			t.Errorf("the revoked session is still listed: %v", body)
		}

		// POST /api/auth/refresh.
		for _, empty := range []any{nil, map[string]any{}, map[string]any{"refreshToken": ""}} {
			code, _, body := s.call("POST", "/api/auth/refresh", "", empty)
			strapiError(t, "refresh without a token", code, body, 400, "BadRequestError", "Missing refresh token")
		}
		code, _, body = s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": "not-a-valid-token"})
		strapiError(t, "refresh with a bad token", code, body, 401, "UnauthorizedError", "Invalid refresh token")
		code, _, ref := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(a1, "refreshToken")})
		if code != 200 || str(ref, "jwt") == "" || str(ref, "refreshToken") == "" || str(ref, "refreshToken") == str(a1, "refreshToken") {
			t.Fatalf("refresh: %d %v", code, ref)
		}

		// POST /api/auth/logout: bad input, one device, the current session, all.
		code, _, body = s.call("POST", "/api/auth/logout", "", map[string]any{})
		strapiError(t, "logout without a token", code, body, 401, "UnauthorizedError", "Missing authentication")
		if code, _, body := s.call("POST", "/api/auth/logout", str(ref, "jwt"), map[string]any{"scope": "everything"}); code != 400 || fieldsOf(body)["scope"] == nil {
			t.Errorf("logout with an unknown scope: %d %v", code, body)
		}
		code, _, body = s.call("POST", "/api/auth/logout", str(ref, "jwt"), map[string]any{"deviceId": "device-b"})
		if code != 200 || body["ok"] != true || body["ended"] != float64(2) {
			t.Fatalf("logout of device-b: %d %v", code, body)
		}
		for _, l := range []map[string]any{a2, a3} {
			if code, h, _ := s.call("GET", "/api/users/me", str(l, "jwt"), nil); code != 401 || h.Get("X-Session-Terminated-Reason") != "logout" {
				t.Errorf("device-b session after its logout: %d %q", code, h.Get("X-Session-Terminated-Reason"))
			}
			code, _, body := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(l, "refreshToken")})
			strapiError(t, "refresh of a logged-out device", code, body, 401, "UnauthorizedError", "Invalid refresh token")
		}
		if code, _, _ := s.call("GET", "/api/users/me", str(ref, "jwt"), nil); code != 200 {
			t.Errorf("device-a survives the logout of device-b: %d", code)
		}
		// Strapi's frontends may post no body at all: the current session ends.
		second := s.strapiLogin(t, "alice", "device-c")
		if code, _, body := s.call("POST", "/api/auth/logout", str(second, "jwt"), nil); code != 200 || body["ok"] != true || body["sessionId"] != sessionIDOf(second) {
			t.Fatalf("logout of the current session: %d %v", code, body)
		}
		if code, _, _ := s.call("GET", "/api/users/me", str(second, "jwt"), nil); code != 401 {
			t.Errorf("the current session after its logout: %d", code)
		}
		if code, _, _ := s.call("GET", "/api/users/me", str(ref, "jwt"), nil); code != 200 {
			t.Errorf("another session survives the current one's logout: %d", code)
		}
		third := s.strapiLogin(t, "alice", "")
		if code, _, body := s.call("POST", "/api/auth/logout", str(third, "jwt"), map[string]any{"scope": "all"}); code != 200 || body["ok"] != true || body["ended"] != float64(3) {
			t.Fatalf("logout of all (sign-up's, device-a's and this one): %d %v", code, body)
		}
		for _, tok := range []string{str(ref, "jwt"), str(third, "jwt")} {
			if code, _, _ := s.call("GET", "/api/users/me", tok, nil); code != 401 {
				t.Errorf("a session after logout of all: %d", code)
			}
		}
		if code, _, _ := s.call("GET", "/api/users/me", str(bob, "jwt"), nil); code != 200 {
			t.Errorf("another user's session after alice's logout of all: %d", code)
		}
	})
}

// TestStrapiRefreshCookieOptIn: with "x-strapi-refresh-cookie: httpOnly"
// the refresh token goes in the strapi_up_refresh HttpOnly cookie only,
// refresh reads it from there, and logout clears it (Strapi's
// auth-refresh API tests).
func TestStrapiRefreshCookieOptIn(t *testing.T) {
	s := startServer(t, nil)
	s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "carol", "email": "carol@example.com", "password": "correct horse battery"})
	optIn := map[string]string{"x-strapi-refresh-cookie": "httpOnly"}
	code, h, login := s.callWith("POST", "/api/auth/local", "", optIn, map[string]any{"identifier": "carol", "password": "correct horse battery"})
	cookie := refreshCookie(h)
	if code != 200 || str(login, "jwt") == "" || login["refreshToken"] != nil || cookie == nil || !cookie.HttpOnly || cookie.Value == "" {
		t.Fatalf("login with the opt-in: %d %v %v", code, login, cookie)
	}
	// Without the opt-in (and without SM_REFRESH_COOKIE) no cookie is set.
	if _, h, body := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "carol", "password": "correct horse battery"}); refreshCookie(h) != nil || str(body, "refreshToken") == "" {
		t.Errorf("login without the opt-in: %v %v", h.Values("Set-Cookie"), body)
	}
	withCookie := map[string]string{"x-strapi-refresh-cookie": "httpOnly", "Cookie": "strapi_up_refresh=" + cookie.Value}
	code, h, ref := s.callWith("POST", "/api/auth/refresh", "", withCookie, map[string]any{})
	next := refreshCookie(h)
	if code != 200 || str(ref, "jwt") == "" || ref["refreshToken"] != nil || next == nil || next.Value == cookie.Value {
		t.Fatalf("refresh from the cookie: %d %v %v", code, ref, next)
	}
	withCookie["Cookie"] = "strapi_up_refresh=" + next.Value
	code, h, body := s.callWith("POST", "/api/auth/logout", str(ref, "jwt"), withCookie, map[string]any{})
	if cleared := refreshCookie(h); code != 200 || body["ok"] != true || cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 {
		t.Fatalf("logout clears the cookie: %d %v %v", code, body, cleared)
	}
	code, _, body = s.callWith("POST", "/api/auth/refresh", "", withCookie, nil)
	strapiError(t, "refresh after logout", code, body, 401, "UnauthorizedError", "Invalid refresh token")
}

// refreshCookie is the strapi_up_refresh cookie a response sets, or nil.
func refreshCookie(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "strapi_up_refresh" {
			return c
		}
	}
	return nil
}

// TestStrapiLogoutScopesReachEveryInstance: a logout of one device and a
// logout of all, made through instance B, end the sessions on instance C
// too (Redis bus): C refuses their access tokens, and their refresh
// tokens at once (a refresh reads the store).
func TestStrapiLogoutScopesReachEveryInstance(t *testing.T) {
	nodes, _ := threeInstances(t, true)
	a, b, c := nodes[0], nodes[1], nodes[2]
	a.call("POST", "/api/auth/local/register", "", map[string]any{"username": "dave", "email": "dave@example.com", "password": "correct horse battery"})
	phone1, phone2 := a.strapiLogin(t, "dave", "phone"), a.strapiLogin(t, "dave", "phone")
	laptop := a.strapiLogin(t, "dave", "laptop")
	for _, l := range []map[string]any{phone1, phone2, laptop} {
		if got := get(t, c.base+"/api/auth/verify", str(l, "jwt")); got != 200 {
			t.Fatalf("C before the logout: %d", got)
		}
	}
	if code, _, body := b.call("POST", "/api/auth/logout", str(laptop, "jwt"), map[string]any{"deviceId": "phone"}); code != 200 || body["ended"] != float64(2) {
		t.Fatalf("logout of the phone through B: %d %v", code, body)
	}
	for _, l := range []map[string]any{phone1, phone2} {
		if code, _, _ := c.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(l, "refreshToken")}); code != 401 {
			t.Errorf("C refreshes a logged-out phone session: %d", code)
		}
		waitRefused(t, c, str(l, "jwt"))
	}
	if got := get(t, c.base+"/api/auth/verify", str(laptop, "jwt")); got != 200 {
		t.Errorf("C refuses the laptop after the phone's logout: %d", got)
	}
	if code, _, body := b.call("POST", "/api/auth/logout", str(laptop, "jwt"), map[string]any{"scope": "all"}); code != 200 || body["ended"] != float64(2) {
		t.Fatalf("logout of all through B (the sign-up's session and the laptop): %d %v", code, body)
	}
	waitRefused(t, c, str(laptop, "jwt"))
	if code, _, _ := c.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(laptop, "refreshToken")}); code != 401 {
		t.Errorf("C refreshes the laptop after logout of all: %d", code)
	}
}

// waitRefused waits (up to a deadline far above the bus's milliseconds)
// until instance n refuses the access token.
func waitRefused(t *testing.T, n *server, jwt string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get(t, n.base+"/api/auth/verify", jwt) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the instance still accepts the access token 5s after the logout")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStrapiChangePassword: Strapi 5's change-password messages and its
// {jwt, refreshToken, user} answer; the current session lives on with the
// pair it answers, the other sessions end (Strapi's
// auth-password-update-revokes-sessions API test).
func TestStrapiChangePassword(t *testing.T) {
	s := startServer(t, nil)
	s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "frank", "email": "frank@example.com", "password": "correct horse battery"})
	here, other := s.strapiLogin(t, "frank", "desk"), s.strapiLogin(t, "frank", "")
	jwt := str(here, "jwt")
	for _, c := range []struct {
		body    map[string]any
		message string
	}{
		{map[string]any{"password": "newPassword1", "passwordConfirmation": "somethingElse", "currentPassword": "correct horse battery"}, "Passwords do not match"},
		{map[string]any{"password": "newPassword1", "passwordConfirmation": "newPassword1", "currentPassword": "badPassword"}, "The provided current password is invalid"},
		{map[string]any{"password": "correct horse battery", "passwordConfirmation": "correct horse battery", "currentPassword": "correct horse battery"}, "Your new password must be different than your current password"},
	} {
		code, _, body := s.call("POST", "/api/auth/change-password", jwt, c.body)
		strapiError(t, c.message, code, body, 400, "ValidationError", c.message)
	}
	const next = "a brand new horse staple"
	code, _, res := s.call("POST", "/api/auth/change-password", jwt, map[string]any{"password": next, "passwordConfirmation": next, "currentPassword": "correct horse battery"})
	user, _ := res["user"].(map[string]any)
	if code != 200 || str(res, "jwt") == "" || str(res, "refreshToken") == "" || user["username"] != "frank" || user["email"] != "frank@example.com" || res["sessionId"] != sessionIDOf(here) {
		t.Fatalf("change-password: %d %v", code, res)
	}
	if code, _, _ := s.call("GET", "/api/users/me", str(res, "jwt"), nil); code != 200 {
		t.Errorf("the answered access token: %d", code)
	}
	if code, _, body := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(res, "refreshToken")}); code != 200 {
		t.Errorf("the answered refresh token: %d %v", code, body)
	}
	code, _, body := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(other, "refreshToken")})
	strapiError(t, "another session's refresh after the change", code, body, 401, "UnauthorizedError", "Invalid refresh token")
	if code, _, _ := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "frank", "password": "correct horse battery"}); code != 400 {
		t.Errorf("old password: %d", code)
	}
	if code, _, body := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "frank", "password": next}); code != 200 || str(body, "refreshToken") == "" {
		t.Errorf("new password: %d %v", code, body)
	}
}

// TestStrapiClientContract replays what the official @strapi/client
// (1.6.2, its users-permissions auth provider) sends, byte for byte: a
// POST {baseURL}/auth/local of JSON.stringify({identifier, password}) with
// only Content-Type: application/json, then every request with
// "Authorization: Bearer <jwt>"; on a 401 it drops the token and signs in
// again before the next request. It reads only jwt from the answer.
func TestStrapiClientContract(t *testing.T) {
	s := startServer(t, nil)
	s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "gina", "email": "gina@example.com", "password": "correct horse battery"})
	baseURL := s.base + "/api"
	signIn := func() string {
		req, _ := http.NewRequest("POST", baseURL+"/auth/local", strings.NewReader(`{"identifier":"gina@example.com","password":"correct horse battery"}`))
		req.Header.Set("Content-Type", "application/json")
		code, _, body := testenv.DoJSON(t, req)
		if code != 200 || str(body, "jwt") == "" {
			t.Fatalf("@strapi/client sign-in: %d %v", code, body)
		}
		return str(body, "jwt")
	}
	me := func(jwt string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", baseURL+"/users/me", nil)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+jwt)
		code, _, body := testenv.DoJSON(t, req)
		return code, body
	}
	jwt := signIn()
	if code, body := me(jwt); code != 200 || body["email"] != "gina@example.com" {
		t.Fatalf("users/me: %d %v", code, body)
	}
	// A force logout here: the client sees a 401 (its HTTPAuthorizationError) ...
	var sid string
	if code, _, body := s.call("GET", "/api/auth/sessions", jwt, nil); code == 200 {
		sid = str(body["data"].([]any)[0].(map[string]any), "id")
	}
	if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", s.adminToken("write"), nil); code != 200 {
		t.Fatalf("terminate: %d %v", code, body)
	}
	if code, body := me(jwt); code != 401 || body["data"] != nil || body["error"].(map[string]any)["name"] != "UnauthorizedError" {
		t.Fatalf("after the force logout: %d %v", code, body)
	}
	// ... and signs in again: a new session.
	if code, _ := me(signIn()); code != 200 {
		t.Errorf("after signing in again: %d", code)
	}
}
