package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// auditVerify runs `sessionmanager audit verify` on the server's store.
func (s *server) auditVerify() (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"audit", "verify"}, func(k string) string { return s.env[k] }, nil, &out, io.Discard)
	return out.String(), err
}

// execSQL runs one statement directly on the server's database, behind the
// service's back, as an attacker with database access would.
func (s *server) execSQL(query string, args ...any) {
	s.t.Helper()
	ctx := context.Background()
	if url := s.env["DATABASE_URL"]; url != "" {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			s.t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, pgPlaceholders(query), args...); err != nil {
			s.t.Fatalf("postgres %s: %v", query, err)
		}
		return
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.env["SM_DATA_DIR"], "sessionmanager.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		s.t.Fatalf("sqlite %s: %v", query, err)
	}
}

func TestAuditChainDetectsTampering(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		s.signUp("gina", "gina@example.com", "")
		s.signUp("hank", "hank@example.com", "")
		read := s.adminToken("read")
		out, err := s.auditVerify()
		if err != nil || !strings.Contains(out, "audit chain intact") {
			t.Fatalf("verify before tampering: %q %v", out, err)
		}
		events := s.listAll("/api/admin/audit?order=asc", read)
		if len(events) < 3 {
			t.Fatalf("only %d events", len(events))
		}
		victim := int64(events[1]["seq"].(float64))
		// Rewrite a non-personal detail of one event, as someone hiding a
		// trace would: the data column is covered by the hash directly.
		s.execSQL("UPDATE events SET data = ? WHERE seq = ?", []byte(`{"reason":"nothing to see"}`), victim)
		_, err = s.auditVerify()
		var ce *sm.ChainError
		if !errors.As(err, &ce) || ce.Seq != victim {
			t.Fatalf("verify after tampering with event %d: %v", victim, err)
		}
		if !strings.Contains(err.Error(), "event "+itoa(victim)) {
			t.Errorf("error %q does not name event %d", err, victim)
		}
	})
}

// pgPlaceholders turns ? placeholders into $1, $2...
func pgPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + itoa(int64(n)))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestGDPRExportAndErasure(t *testing.T) {
	// Ivy comes through a trusted proxy from her own address, so her
	// personal data is told apart from the admin's (127.0.0.1).
	env := func(e map[string]string) map[string]string {
		e["SM_TRUSTED_PROXIES"] = "127.0.0.1/32"
		return e
	}
	t.Run("sqlite", func(t *testing.T) { testGDPR(t, startServer(t, env(map[string]string{}))) })
	t.Run("postgres", func(t *testing.T) { testGDPR(t, startServer(t, env(postgresEnv(t)))) })
}

func testGDPR(t *testing.T, s *server) {
	{
		const ivyIP = "198.51.100.23"
		hdr := map[string]string{"User-Agent": "Mozilla/5.0 (Ivy's laptop)", "X-Forwarded-For": ivyIP}
		var ivy, second map[string]any
		code, _, b := s.request("POST", "/api/auth/local/register", "", hdr, map[string]any{"username": "ivy", "email": "ivy@example.com", "password": "correct horse battery"})
		if code != 200 || json.Unmarshal(b, &ivy) != nil {
			t.Fatalf("register: %d %s", code, b)
		}
		uid := idOf(ivy, "user")
		if ip := str(ivy["session"].(map[string]any), "ip"); ip != ivyIP {
			t.Fatalf("session ip %q, want %s", ip, ivyIP)
		}
		code, _, b = s.request("POST", "/api/auth/local", "", hdr, map[string]any{"identifier": "ivy", "password": "correct horse battery"})
		if code != 200 || json.Unmarshal(b, &second) != nil {
			t.Fatalf("login: %d %s", code, b)
		}
		other := s.signUp("jack", "jack@example.com", "")
		read, write := s.adminToken("read"), s.adminToken("write")

		// Access request: everything about ivy, nothing about jack.
		code, h, b := s.raw("GET", "/api/admin/users/"+uid+"/export", read, "", nil)
		if code != 200 || !strings.Contains(h.Get("Content-Disposition"), `filename="user-`+uid+`.json"`) {
			t.Fatalf("user export: %d %v", code, h)
		}
		var exp struct {
			Data struct {
				User     map[string]any
				Sessions []map[string]any
				Events   []map[string]any
			}
		}
		if err := json.Unmarshal(b, &exp); err != nil {
			t.Fatalf("user export is not JSON: %v %.300s", err, b)
		}
		if exp.Data.User["email"] != "ivy@example.com" || len(exp.Data.Sessions) != 2 || len(exp.Data.Events) < 3 {
			t.Fatalf("user export: user %v, %d sessions, %d events", exp.Data.User, len(exp.Data.Sessions), len(exp.Data.Events))
		}
		for _, e := range exp.Data.Events {
			if e["userId"] != uid {
				t.Errorf("another user's event in the export: %v", e)
			}
		}
		if strings.Contains(string(b), idOf(other, "user")) {
			t.Error("jack is in ivy's export")
		}
		if code, _, _ := s.call("GET", "/api/admin/users/nobody/export", read, nil); code != 404 {
			t.Errorf("export of an unknown user: %d", code)
		}

		// Erasure.
		if code, _, _ := s.call("DELETE", "/api/admin/users/nobody/personal-data", write, nil); code != 404 {
			t.Errorf("erase an unknown user: %d", code)
		}
		code, _, body := s.call("DELETE", "/api/admin/users/"+uid+"/personal-data", write, nil)
		if code != 200 || body["data"].(map[string]any)["sessionsEnded"] != float64(2) {
			t.Fatalf("erase: %d %v", code, body)
		}
		for _, jwt := range []string{str(ivy, "jwt"), str(second, "jwt")} {
			if code, h, _ := s.call("GET", "/api/auth/verify", jwt, nil); code != 401 || h.Get("X-Session-Terminated-Reason") != "erased" {
				t.Errorf("an erased user's session still works: %d %q", code, h.Get("X-Session-Terminated-Reason"))
			}
		}
		if code, _, _ := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "ivy@example.com", "password": "correct horse battery"}); code != 400 && code != 401 {
			t.Errorf("login by the erased email: %d", code)
		}
		_, _, b = s.raw("GET", "/api/admin/users/"+uid+"/export", read, "", nil)
		for _, personal := range []string{"ivy@example.com", `"ivy"`, "Ivy's laptop", ivyIP} {
			if strings.Contains(string(b), personal) {
				t.Errorf("%q survived the erasure: %s", personal, b)
			}
		}
		_, _, body = s.call("GET", "/api/admin/audit?type=user.erased&user="+uid, read, nil)
		evs, _ := body["data"].([]any)
		if len(evs) != 1 {
			t.Fatalf("user.erased events: %v", body)
		}
		e := evs[0].(map[string]any)
		if e["actorType"] != "admin" || strings.Contains(string(mustJSON(e)), "ivy") {
			t.Errorf("user.erased event: %v", e)
		}
		// Jack is untouched.
		if code, _, _ := s.call("GET", "/api/users/me", str(other, "jwt"), nil); code != 200 {
			t.Errorf("another user lost their session: %d", code)
		}
		out, err := s.auditVerify()
		if err != nil || !strings.Contains(out, "audit chain intact") {
			t.Fatalf("audit verify after erasure: %q %v", out, err)
		}
	}
}
