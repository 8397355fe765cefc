package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// dashboardPost signs in to the dashboard of s and posts form to path with
// the page's anti-forgery token, as the admin's browser would; it returns
// the answer's status.
func (s *server) dashboardPost(path string, form url.Values) int {
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
	resp.Body.Close()
	return resp.StatusCode
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
