package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// formulaName is a username a spreadsheet would run as a formula.
const formulaName = `=HYPERLINK("http://x")`

// raw makes a request and returns the body unparsed (exports).
func (s *server) raw(method, path, bearer, userAgent string, body any) (int, http.Header, []byte) {
	s.t.Helper()
	return s.request(method, path, bearer, map[string]string{"User-Agent": userAgent}, body)
}

// request makes a request with extra headers (empty values are skipped).
func (s *server) request(method, path, bearer string, headers map[string]string, body any) (int, http.Header, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// signUp signs a user up with a user agent and returns the login answer.
func (s *server) signUp(username, email, userAgent string) map[string]any {
	s.t.Helper()
	code, _, b := s.raw("POST", "/api/auth/local/register", "", userAgent, map[string]any{"username": username, "email": email, "password": "correct horse battery"})
	var out map[string]any
	if code != 200 || json.Unmarshal(b, &out) != nil {
		s.t.Fatalf("register %s: %d %s", username, code, b)
	}
	return out
}

func idOf(m map[string]any, k string) string { return str(m[k].(map[string]any), "id") }

// listAll reads every page of a list endpoint.
func (s *server) listAll(path, bearer string) []map[string]any {
	s.t.Helper()
	var all []map[string]any
	cursor := ""
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for {
		p := path + sep + "limit=500"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		code, _, body := s.call("GET", p, bearer, nil)
		if code != 200 {
			s.t.Fatalf("GET %s: %d %v", p, code, body)
		}
		for _, x := range body["data"].([]any) {
			all = append(all, x.(map[string]any))
		}
		if cursor = str(body, "nextCursor"); cursor == "" {
			return all
		}
	}
}

func TestAdminAPIScopesAndAudit(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		alice := s.signUp("alice", "alice@example.com", "")
		bob := s.signUp("bob", "bob@example.com", "")
		sid, uid := idOf(alice, "session"), idOf(alice, "user")
		read, write, service := s.adminToken("read"), s.adminToken("write"), s.adminToken("service")

		readRoutes := []string{
			"/api/admin/sessions", "/api/admin/sessions/" + sid, "/api/admin/users", "/api/admin/users/" + uid,
			"/api/admin/users/" + uid + "/sessions", "/api/admin/stats", "/api/admin/settings", "/api/admin/audit", "/api/admin/geo/status", "/api/admin/geo/8.8.8.8",
			"/api/admin/export/sessions", "/api/admin/export/audit", "/api/admin/users/" + uid + "/export", "/api/admin/tokens",
		}
		for _, p := range readRoutes {
			if code, _, _ := s.raw("GET", p, "", "", nil); code != 401 {
				t.Errorf("GET %s without a token: %d", p, code)
			}
			if code, _, _ := s.raw("GET", p, str(alice, "jwt"), "", nil); code != 401 {
				t.Errorf("GET %s with a user's access token: %d", p, code)
			}
			if code, _, _ := s.raw("GET", p, service, "", nil); code != 403 {
				t.Errorf("GET %s with a service token: %d", p, code)
			}
			if code, _, b := s.raw("GET", p, read, "", nil); code != 200 {
				t.Errorf("GET %s with a read token: %d %s", p, code, b)
			}
		}
		writeRoutes := []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/admin/sessions/" + sid + "/terminate", nil},
			{"DELETE", "/api/admin/sessions/" + sid, nil},
			{"POST", "/api/admin/sessions/clean", nil},
			{"POST", "/api/admin/users/" + uid + "/terminate-all", nil},
			{"POST", "/api/admin/users/" + uid + "/block", nil},
			{"POST", "/api/admin/users/" + uid + "/unblock", nil},
			{"PUT", "/api/admin/settings", map[string]any{"maxSessionsPerUser": 30}},
			{"DELETE", "/api/admin/users/" + uid + "/personal-data", nil},
			{"POST", "/api/admin/tokens", map[string]any{"name": "x", "scope": "read"}},
			{"DELETE", "/api/admin/tokens/nosuch", nil},
		}
		for _, c := range writeRoutes {
			if code, _, _ := s.raw(c.method, c.path, "", "", c.body); code != 401 {
				t.Errorf("%s %s without a token: %d", c.method, c.path, code)
			}
			if code, _, _ := s.raw(c.method, c.path, str(alice, "jwt"), "", c.body); code != 401 {
				t.Errorf("%s %s with a user's access token: %d", c.method, c.path, code)
			}
			code, _, b := s.raw(c.method, c.path, read, "", c.body)
			var body map[string]any
			_ = json.Unmarshal(b, &body)
			if code != 403 || errReason(body) != "scope_write_required" {
				t.Errorf("%s %s with a read token: %d %s", c.method, c.path, code, b)
			}
		}
		// Nothing changed: alice's session is still live.
		if code, _, _ := s.call("GET", "/api/users/me", str(alice, "jwt"), nil); code != 200 {
			t.Fatalf("a refused admin action had an effect: %d", code)
		}

		// The write token does each action; each is audited with who and where.
		wants := []struct {
			method, path string
			body         any
			code         int
		}{
			{"POST", "/api/admin/users/" + uid + "/block", nil, 200},
			{"POST", "/api/admin/users/" + uid + "/unblock", nil, 200},
			{"PUT", "/api/admin/settings", map[string]any{"maxSessionsPerUser": 30}, 200},
			{"POST", "/api/admin/users/" + idOf(bob, "user") + "/terminate-all", nil, 200},
			{"DELETE", "/api/admin/sessions/" + idOf(bob, "session"), nil, 204},
			{"POST", "/api/admin/sessions/clean", nil, 200},
			{"GET", "/api/admin/export/sessions?format=csv", nil, 200},
			{"GET", "/api/admin/users/" + uid + "/export", nil, 200},
		}
		for _, c := range wants {
			if code, _, b := s.raw(c.method, c.path, write, "", c.body); code != c.code {
				t.Errorf("%s %s: %d %s", c.method, c.path, code, b)
			}
		}
		events := s.listAll("/api/admin/audit?actor=token:t-write", read)
		seen := map[string]bool{}
		for _, e := range events {
			if e["actorType"] != "admin" || e["ip"] != "127.0.0.1" {
				t.Errorf("admin event without who/where: %v", e)
			}
			seen[str(e, "type")] = true
			if d, ok := e["data"].(map[string]any); ok && d["action"] != nil {
				seen[str(d, "action")] = true
			}
		}
		for _, want := range []string{"user.blocked", "user.unblocked", "settings.changed", "session.ended", "user.terminate_all",
			"session.delete", "sessions.clean", "export.sessions", "user.export"} {
			if !seen[want] {
				t.Errorf("admin action %s is not in the audit log (saw %v)", want, seen)
			}
		}
	})
}

func TestAdminBadFilters(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		u := s.signUp("dora", "dora@example.com", "")
		read := s.adminToken("read")
		cases := []struct{ path, field string }{
			{"/api/admin/sessions?status=bogus", "status"},
			{"/api/admin/sessions?limit=0", "limit"},
			{"/api/admin/sessions?ip=1.2.3", "ip"},
			{"/api/admin/sessions?country=XYZ", "country"},
			{"/api/admin/sessions?device=toaster", "device"},
			{"/api/admin/sessions?threat=ghost", "threat"},
			{"/api/admin/sessions?scoreBelow=x", "scoreBelow"},
			{"/api/admin/sessions?from=yesterday", "from"},
			{"/api/admin/sessions?sort=name", "sort"},
			{"/api/admin/sessions?order=up", "order"},
			{"/api/admin/users?blocked=maybe", "blocked"},
			{"/api/admin/users?limit=501", "limit"},
			{"/api/admin/users/" + idOf(u, "user") + "/sessions?status=x", "status"},
			{"/api/admin/audit?order=sideways", "order"},
			{"/api/admin/audit?to=noon", "to"},
			{"/api/admin/export/sessions?format=xml", "format"},
			{"/api/admin/export/sessions?status=bogus&format=csv", "status"},
			{"/api/admin/export/audit?from=x", "from"},
			{"/api/admin/export/audit?format=pdf", "format"},
		}
		for _, c := range cases {
			code, h, body := s.call("GET", c.path, read, nil)
			if code != 400 || fieldsOf(body)[c.field] == nil {
				t.Errorf("%s: %d %v, want 400 naming %s", c.path, code, body, c.field)
			}
			if strings.Contains(h.Get("Content-Disposition"), "attachment") {
				t.Errorf("%s: an error came as an attachment", c.path)
			}
		}
	})
}

func TestAdminSQLMetacharactersInFilters(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		u := s.signUp("erin", "erin@example.com", "")
		read := s.adminToken("read")
		before := len(s.listAll("/api/admin/sessions", read))
		hostile := []string{`' OR 1=1 --`, `'; DROP TABLE sessions; --`, `" OR ""="`, `%' OR '%'='`, `\'; SELECT pg_sleep(5); --`, "x\x00y", `1) UNION SELECT * FROM admin_tokens --`}
		lists := map[string][]string{
			"/api/admin/sessions":                               {"status", "user", "country", "ip", "device", "threat", "scoreBelow", "from", "to", "q", "sort", "order", "cursor", "limit"},
			"/api/admin/users/" + idOf(u, "user") + "/sessions": {"q", "status", "country"},
			"/api/admin/users":                                  {"q", "blocked", "cursor"},
			"/api/admin/audit":                                  {"type", "user", "session", "actor", "from", "to", "order", "cursor"},
			"/api/admin/export/sessions":                        {"user", "q", "country", "status", "format"},
			"/api/admin/export/audit":                           {"type", "user", "session", "actor"},
		}
		// Free-text filters match nothing; the others are refused by name.
		freeText := map[string]bool{"user": true, "q": true, "type": true, "session": true, "actor": true}
		for path, params := range lists {
			for _, p := range params {
				for _, v := range hostile {
					full := path + "?" + url.Values{p: {v}}.Encode()
					code, _, b := s.raw("GET", full, read, "", nil)
					if code >= 500 {
						t.Errorf("%s: %d %s", full, code, b)
						continue
					}
					if freeText[p] && code != 200 {
						t.Errorf("%s: %d %s, want 200", full, code, b)
					}
					if code == 200 && freeText[p] && !strings.Contains(path, "export") {
						var body map[string]any
						_ = json.Unmarshal(b, &body)
						if n := len(body["data"].([]any)); n != 0 && p != "type" {
							t.Errorf("%s matched %d rows", full, n)
						}
					}
					if code == 200 && freeText[p] && strings.Contains(path, "export") && len(bytes.TrimSpace(b)) != 0 {
						t.Errorf("%s exported rows: %s", full, b)
					}
				}
			}
		}
		if after := len(s.listAll("/api/admin/sessions", read)); after != before || before == 0 {
			t.Errorf("sessions before %d, after %d", before, after)
		}
		if code, _, _ := s.call("GET", "/api/users/me", str(u, "jwt"), nil); code != 200 {
			t.Errorf("the user's session is gone: %d", code)
		}
	})
}

func TestExportFormats(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		const evilUA = `@SUM(1+1)*cmd|' /C calc'!A0`
		f := s.signUp(formulaName, "formula@example.com", evilUA)
		s.signUp("frank", "frank@example.com", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
		read, service := s.adminToken("read"), s.adminToken("service")
		// More than one export page (500) through external sessions, which
		// need no password hashing.
		for i := range 520 {
			code, _, b := s.raw("POST", "/api/sessions", service, "", map[string]any{"externalUserId": "ext-1", "username": "ext1", "email": "ext1@example.com", "ip": "203.0.113.7", "userAgent": "curl/8"})
			if code != 201 {
				t.Fatalf("external session %d: %d %s", i, code, b)
			}
		}
		sessions := s.listAll("/api/admin/sessions", read)
		if len(sessions) != 522 {
			t.Fatalf("%d sessions, want 522", len(sessions))
		}

		// CSV: parse it back; the formula username and user agent are inert.
		code, h, b := s.raw("GET", "/api/admin/export/sessions?format=csv", read, "", nil)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv export: %d %q", code, h.Get("Content-Type"))
		}
		if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") || !strings.Contains(cd, ".csv") {
			t.Errorf("Content-Disposition %q", cd)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("csv does not parse: %v", err)
		}
		if len(rows) != 1+len(sessions) {
			t.Fatalf("csv rows %d, want %d", len(rows), 1+len(sessions))
		}
		col := map[string]int{}
		for i, c := range rows[0] {
			col[c] = i
		}
		for _, c := range []string{"id", "userId", "username", "userAgent", "ip", "status", "countryCode", "score"} {
			if _, ok := col[c]; !ok {
				t.Fatalf("csv header %v lacks %s", rows[0], c)
			}
		}
		found := false
		for _, r := range rows[1:] {
			for _, cell := range r {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("cell %q starts a formula", cell)
				}
			}
			if r[col["id"]] == idOf(f, "session") {
				found = true
				if r[col["username"]] != "'"+formulaName || r[col["userAgent"]] != "'"+evilUA {
					t.Errorf("formula cells not escaped: username %q userAgent %q", r[col["username"]], r[col["userAgent"]])
				}
			}
		}
		if !found {
			t.Error("the formula user's session is not in the csv")
		}

		// NDJSON: each line one session.
		code, h, b = s.raw("GET", "/api/admin/export/sessions", read, "", nil)
		if code != 200 || h.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("ndjson export: %d %q", code, h.Get("Content-Type"))
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		ids := map[string]bool{}
		for _, l := range lines {
			var x map[string]any
			if err := json.Unmarshal([]byte(l), &x); err != nil {
				t.Fatalf("ndjson line %q: %v", l, err)
			}
			ids[str(x, "id")] = true
		}
		if len(lines) != len(sessions) || len(ids) != len(sessions) {
			t.Errorf("ndjson: %d lines, %d distinct ids, want %d", len(lines), len(ids), len(sessions))
		}

		// JSON: one array, filters applied.
		code, _, b = s.raw("GET", "/api/admin/export/sessions?format=json&user="+idOf(f, "user"), read, "", nil)
		var arr []map[string]any
		if code != 200 || json.Unmarshal(b, &arr) != nil || len(arr) != 1 || arr[0]["username"] != formulaName {
			t.Errorf("json export with a user filter: %d %d items %.200s", code, len(arr), b)
		}
		code, _, b = s.raw("GET", "/api/admin/export/sessions?format=json&status=ended", read, "", nil)
		if code != 200 || json.Unmarshal(b, &arr) != nil || len(arr) != 0 {
			t.Errorf("json export of no rows: %d %s", code, b)
		}

		// Audit export in the three formats agrees with the audit list.
		events := s.listAll("/api/admin/audit", read)
		_, _, b = s.raw("GET", "/api/admin/export/audit?format=json", read, "", nil)
		var evs []map[string]any
		if err := json.Unmarshal(b, &evs); err != nil || len(evs) < len(events) {
			t.Fatalf("audit json: %v, %d events, list had %d", err, len(evs), len(events))
		}
		_, _, b = s.raw("GET", "/api/admin/export/audit?format=ndjson&type=login.succeeded&order=asc", read, "", nil)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		var prev float64
		for _, l := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil || e["type"] != "login.succeeded" || e["seq"].(float64) <= prev {
				t.Fatalf("audit ndjson line %q (%v)", l, err)
			}
			prev = e["seq"].(float64)
		}
		if len(lines) != 522 {
			t.Errorf("login.succeeded events exported: %d, want 522 (2 sign-ups, 520 external)", len(lines))
		}
		_, _, b = s.raw("GET", "/api/admin/export/audit?format=csv", read, "", nil)
		rows, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(rows) < 1+len(events) || rows[0][0] != "seq" {
			t.Fatalf("audit csv: %v, %d rows", err, len(rows))
		}
		for _, r := range rows[1:] {
			for _, cell := range r {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("audit cell %q starts a formula", cell)
				}
			}
		}
	})
}

func TestAdminTokensOverHTTP(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		write := s.adminToken("write")
		code, _, body := s.call("POST", "/api/admin/tokens", write, map[string]any{"name": "ci export", "scope": "read"})
		if code != 201 {
			t.Fatalf("create token: %d %v", code, body)
		}
		created := body["data"].(map[string]any)
		plain, id := str(created, "token"), str(created, "id")
		if !strings.HasPrefix(plain, "msm_") || id == "" || created["scope"] != "read" {
			t.Fatalf("created token: %v", created)
		}
		if code, _, _ := s.call("GET", "/api/admin/sessions", plain, nil); code != 200 {
			t.Errorf("the new read token cannot list: %d", code)
		}
		if code, _, _ := s.call("POST", "/api/admin/tokens", plain, map[string]any{"name": "escalate", "scope": "write"}); code != 403 {
			t.Errorf("a read token created a token: %d", code)
		}
		code, _, b := s.raw("GET", "/api/admin/tokens", plain, "", nil)
		if code != 200 || strings.Contains(string(b), plain) || strings.Contains(strings.ToLower(string(b)), "hash") {
			t.Fatalf("list tokens: %d %s", code, b)
		}
		var list struct{ Data []map[string]any }
		_ = json.Unmarshal(b, &list)
		byName := map[string]map[string]any{}
		for _, x := range list.Data {
			byName[str(x, "name")] = x
		}
		if x := byName["ci export"]; x == nil || x["revoked"] != false || str(x, "lastUsedAt") == "" || str(x, "createdAt") == "" {
			t.Errorf("listed token: %v", x)
		}
		if code, _, body := s.call("POST", "/api/admin/tokens", write, map[string]any{"name": " ", "scope": "root"}); code != 400 || fieldsOf(body)["name"] == nil || fieldsOf(body)["scope"] == nil {
			t.Errorf("bad token request: %d %v", code, body)
		}
		if code, _, _ := s.call("DELETE", "/api/admin/tokens/nosuch", write, nil); code != 404 {
			t.Errorf("revoke unknown token: %d", code)
		}
		if code, _, _ := s.call("DELETE", "/api/admin/tokens/"+id, write, nil); code != 204 {
			t.Fatalf("revoke: %d", code)
		}
		if code, _, body := s.call("GET", "/api/admin/sessions", plain, nil); code != 401 {
			t.Errorf("revoked token still works: %d %v", code, body)
		}
		_, _, body = s.call("GET", "/api/admin/tokens", write, nil)
		for _, x := range body["data"].([]any) {
			if m := x.(map[string]any); str(m, "id") == id && (m["revoked"] != true || str(m, "revokedAt") == "") {
				t.Errorf("revoked token listed as %v", m)
			}
		}
		actions := map[string]bool{}
		for _, e := range s.listAll("/api/admin/audit?type=admin.action", write) {
			d, _ := e["data"].(map[string]any)
			actions[str(d, "action")] = true
			if strings.Contains(string(mustJSON(e)), plain) {
				t.Errorf("a plain token is in the audit log: %v", e)
			}
		}
		if !actions["admin_token.create"] || !actions["admin_token.revoke"] {
			t.Errorf("token actions not audited: %v", actions)
		}
	})
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestOpenAPIServedByTheServer(t *testing.T) {
	s := startServer(t, nil)
	code, h, b := s.raw("GET", "/api/openapi.json", "", "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("GET /api/openapi.json: %d %q", code, h.Get("Content-Type"))
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") || doc.Paths["/api/admin/export/sessions"]["get"] == nil || doc.Paths["/api/admin/users/{id}/personal-data"]["delete"] == nil {
		t.Errorf("served document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
}
