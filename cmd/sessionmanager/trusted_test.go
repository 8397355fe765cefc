package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// callHeaders is a JSON request from the VPN address with the challenge
// tests' browser, headers replacing or adding to those.
func (s *server) callHeaders(headers map[string]string, method, path, bearer string, body any) (int, http.Header, map[string]any) {
	s.t.Helper()
	all := map[string]string{"X-Forwarded-For": vpnIP, "User-Agent": challengeUA}
	maps.Copy(all, headers)
	return s.callWith(method, path, bearer, all, body)
}

// rememberedLogin passes a VPN login's challenge with rememberDevice from a
// browser page and returns the answer and its device cookie.
func rememberedLogin(t *testing.T, s *server, box *mailbox, email string) (map[string]any, *http.Cookie) {
	t.Helper()
	ch := challengedLogin(t, s)
	code := sendCode(t, s, box, str(ch, "id"), email)
	status, h, body := s.callHeaders(map[string]string{"Origin": s.base, "Sec-Fetch-Mode": "cors"}, "POST", "/api/auth/challenge/verify", "",
		map[string]any{"challengeId": str(ch, "id"), "method": "email", "code": code, "rememberDevice": true})
	// A browser gets the token in the HttpOnly cookie only, never in the
	// body a script on the page could read.
	if _, inBody := body["deviceToken"]; status != 200 || inBody || str(body, "jwt") == "" {
		t.Fatalf("verify with rememberDevice: %d %v", status, body)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "msm_device" {
			cookie = c
		}
	}
	if cookie == nil || len(cookie.Value) < 40 || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/api/auth" || cookie.Expires.IsZero() {
		t.Fatalf("device cookie: %+v (%v)", cookie, h.Values("Set-Cookie"))
	}
	return body, cookie
}

// TestTrustedDeviceSkipsTheChallenge (real binary, real SMTP): a challenge
// passed with rememberDevice returns a device token (JSON and HttpOnly
// Lax cookie); a later VPN login presenting it (field or cookie) is not
// challenged, without it it is; copied to another user it does nothing;
// the user and the admin list and forget devices (audited), after which
// the token no longer skips anything.
func TestTrustedDeviceSkipsTheChallenge(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			s, box, email := challengeServer(t, store)
			write, read := s.adminToken("write"), s.adminToken("read")
			login := func(who string, headers map[string]string, body map[string]any) (int, map[string]any) {
				t.Helper()
				body["identifier"], body["password"] = who, "correct horse battery"
				code, _, out := s.callHeaders(headers, "POST", "/api/auth/local", "", body)
				return code, out
			}
			answer, cookie := rememberedLogin(t, s, box, email)
			tok := cookie.Value
			userID := str(answer["user"].(map[string]any), "id")

			if code, out := login("vera", nil, map[string]any{"deviceToken": tok}); code != 200 || str(out, "jwt") == "" {
				t.Fatalf("trusted device (field): %d %v", code, out)
			}
			code, out := login("vera", map[string]string{"Cookie": "msm_device=" + cookie.Value}, map[string]any{})
			if code != 200 {
				t.Fatalf("trusted device (cookie): %d %v", code, out)
			}
			jwt := str(out, "jwt")
			if code, out := login("vera", nil, map[string]any{}); code != 401 || errReason(out) != "challenge_required" {
				t.Fatalf("without the token: %d %v", code, out)
			}
			if code, out := login("vera", nil, map[string]any{"deviceToken": tok[:len(tok)-2] + "xx"}); code != 401 {
				t.Fatalf("forged token: %d %v", code, out)
			}
			// Copied to another user (no factor: the fallback blocks).
			s.register(t, "walt")
			if code, out := login("walt", nil, map[string]any{"deviceToken": tok}); code == 200 {
				t.Fatalf("vera's device token let walt skip the challenge: %v", out)
			}

			// The user's list: the device, never its token.
			code, _, list := s.callHeaders(nil, "GET", "/api/users/me/trusted-devices", jwt, nil)
			raw, _ := json.Marshal(list)
			devices, _ := list["data"].([]any)
			if code != 200 || len(devices) != 1 || strings.Contains(string(raw), tok) || str(devices[0].(map[string]any), "name") != "Firefox / Linux" {
				t.Fatalf("my trusted devices: %d %s", code, raw)
			}
			deviceID := str(devices[0].(map[string]any), "id")
			if code, _, out := s.call("GET", "/api/admin/users/"+userID+"/trusted-devices", read, nil); code != 200 || len(out["data"].([]any)) != 1 {
				t.Fatalf("admin list: %d %v", code, out)
			}
			// Another user cannot forget it; its owner can.
			_, _, wl := s.callHeaders(nil, "POST", "/api/auth/local", "", map[string]any{"identifier": "walt", "password": "correct horse battery"})
			if wj := str(wl, "jwt"); wj != "" {
				if code, _, out := s.callHeaders(nil, "DELETE", "/api/users/me/trusted-devices/"+deviceID, wj, nil); code != 404 {
					t.Fatalf("walt forgot vera's device: %d %v", code, out)
				}
			}
			if code, _, out := s.callHeaders(nil, "DELETE", "/api/users/me/trusted-devices/"+deviceID, jwt, nil); code != 200 || out["revoked"] != float64(1) {
				t.Fatalf("forget: %d %v", code, out)
			}
			if code, out := login("vera", nil, map[string]any{"deviceToken": tok}); code != 401 || errReason(out) != "challenge_required" {
				t.Fatalf("a forgotten device is challenged again: %d %v", code, out)
			}

			// The admin forgets them too, audited.
			_, cookie = rememberedLogin(t, s, box, email)
			tok = cookie.Value
			if code, _, out := s.call("DELETE", "/api/admin/users/"+userID+"/trusted-devices", write, nil); code != 200 || out["revoked"] != float64(1) {
				t.Fatalf("admin forget: %d %v", code, out)
			}
			if code, out := login("vera", nil, map[string]any{"deviceToken": tok}); code != 401 {
				t.Fatalf("after the admin forgot it: %d %v", code, out)
			}
			_, _, audit := s.call("GET", "/api/admin/audit?type=admin.action&user="+userID, read, nil)
			raw, _ = json.Marshal(audit)
			if !strings.Contains(string(raw), "forget_trusted_devices") {
				t.Fatalf("admin action not audited: %s", raw)
			}
			if code, _, out := s.call("GET", "/api/admin/users/"+userID+"/challenges", read, nil); code != 200 || len(out["data"].([]any)) < 4 {
				t.Fatalf("challenge history: %d %v", code, out)
			}
			if code, _, out := s.call("GET", "/api/admin/users/nope/trusted-devices", read, nil); code != 404 {
				t.Fatalf("unknown user: %d %v", code, out)
			}
		})
	}
}
