package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// lastSeq is the seq of the newest audit event, read as the admin API shows it.
func (s *server) lastSeq(read string) int64 {
	s.t.Helper()
	_, _, body := s.call("GET", "/api/admin/audit?limit=1", read, nil)
	evs, _ := body["data"].([]any)
	if len(evs) != 1 {
		s.t.Fatalf("newest event: %v", body)
	}
	return int64(evs[0].(map[string]any)["seq"].(float64))
}

// apiVerify asks GET /api/admin/audit/verify.
func (s *server) apiVerify(read string) map[string]any {
	s.t.Helper()
	code, _, body := s.call("GET", "/api/admin/audit/verify", read, nil)
	data, _ := body["data"].(map[string]any)
	if code != 200 || data == nil {
		s.t.Fatalf("GET /api/admin/audit/verify: %d %v", code, body)
	}
	return data
}

// wantChainError runs `audit verify` and wants it to fail with kind.
func (s *server) wantChainError(kind string) *sm.ChainError {
	s.t.Helper()
	out, err := s.auditVerify()
	var ce *sm.ChainError
	if !errors.As(err, &ce) || ce.Kind != kind {
		s.t.Fatalf("audit verify: want %s, got %q %v", kind, out, err)
	}
	return ce
}

func TestAuditVerifyDetectsTruncation(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		s.signUp("kim", "kim@example.com", "")
		s.signUp("lou", "lou@example.com", "")
		read := s.adminToken("read")
		last := s.lastSeq(read)
		out, err := s.auditVerify()
		if err != nil || !strings.Contains(out, fmt.Sprintf("head seq %d signed", last)) {
			t.Fatalf("verify before: %q %v", out, err)
		}
		if v := s.apiVerify(read); v["ok"] != true || v["headSeq"] != float64(last) || v["events"] != float64(last) {
			t.Fatalf("API verify before: %v", v)
		}
		// Hide the newest two events, as someone covering their tracks would.
		s.execSQL("DELETE FROM deliveries WHERE event_seq > ?", last-2)
		s.execSQL("DELETE FROM events WHERE seq > ?", last-2)
		ce := s.wantChainError(sm.ChainTruncated)
		want := fmt.Sprintf("truncated: head says seq %d, table ends at %d", last, last-2)
		if ce.Error() != want {
			t.Errorf("audit verify says %q, want %q", ce, want)
		}
		v := s.apiVerify(read)
		if v["ok"] != false || v["kind"] != "truncated" || v["seq"] != float64(last) || v["tableEnd"] != float64(last-2) || v["message"] != want {
			t.Errorf("API verify after truncation: %v", v)
		}
	})
}

func TestAuditVerifyDetectsForgedHead(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		s.signUp("mia", "mia@example.com", "")
		read := s.adminToken("read")
		last := s.lastSeq(read)
		// Cut the newest event and move the head back onto the one before:
		// a consistent-looking table the attacker cannot sign.
		s.execSQL("DELETE FROM deliveries WHERE event_seq = ?", last)
		s.execSQL("DELETE FROM events WHERE seq = ?", last)
		s.execSQL("UPDATE event_chain SET seq = ?, hash = (SELECT hash FROM events WHERE seq = ?)", last-1, last-1)
		ce := s.wantChainError(sm.ChainHeadSignature)
		if !strings.HasPrefix(ce.Error(), "head signature invalid") {
			t.Errorf("audit verify says %q", ce)
		}
		if v := s.apiVerify(read); v["ok"] != false || v["kind"] != "head_signature" {
			t.Errorf("API verify after forging the head: %v", v)
		}
		// The service appends on (a sign-up): it must not sign over the cut.
		s.signUp("moe", "moe@example.com", "")
		ce = s.wantChainError(sm.ChainResigned)
		if ce.Seq != last-1 {
			t.Errorf("audit verify says %q, want the forged head's seq %d", ce, last-1)
		}
		if v := s.apiVerify(read); v["ok"] != false || v["kind"] != "resigned" || v["seq"] != float64(last-1) {
			t.Errorf("API verify after an append on the forged head: %v", v)
		}
	})
}

func TestAuditVerifyCheckpointsCatchRewrittenTail(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { testCheckpointsCatchRewrittenTail(t, kind) })
	}
}

func testCheckpointsCatchRewrittenTail(t *testing.T, kind string) {
	env := map[string]string{}
	if kind == "postgres" {
		env = postgresEnv(t)
	}
	env["SM_AUDIT_CHECKPOINT_EVERY"] = "2"
	s := startServer(t, env)
	for _, n := range []string{"ned", "oda", "pia"} {
		s.signUp(n, n+"@example.com", "")
	}
	st, _, err := configuredStore(context.Background(), func(k string) string { return s.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _, err := st.ListEvents(context.Background(), sm.EventFilter{Limit: 500})
	if err != nil || len(evs) < 5 {
		t.Fatalf("events: %d %v", len(evs), err)
	}
	// Rewrite event 3 (as in TestAuditChainDetectsTampering) and re-link
	// every later one: the keyless chain verifies again, the signed
	// checkpoint at 4 does not.
	prev := evs[1].Hash
	for _, e := range evs[2:] {
		if e.Seq == 3 {
			e.Data = json.RawMessage(`{"reason":"nothing to see"}`)
		}
		e.PrevHash, e.Hash = prev, e.ChainHash(prev)
		s.execSQL("UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?", []byte(e.Data), e.PrevHash, e.Hash, e.Seq)
		prev = e.Hash
	}
	if _, err := sm.VerifyChain(context.Background(), st); err != nil {
		t.Fatalf("the re-linked chain should pass the keyless check: %v", err)
	}
	ce := s.wantChainError(sm.ChainRewritten)
	if ce.Seq != 4 || !strings.Contains(ce.Error(), "after seq 2") {
		t.Errorf("audit verify says %q (seq %d), want the checkpoint at 4 after 2", ce, ce.Seq)
	}
}

// dumpTables returns every row of every table of the server's database as
// text (bytes as they are), to search for what must not be there.
func (s *server) dumpTables() string {
	s.t.Helper()
	ctx := context.Background()
	var dump strings.Builder
	if url := s.env["DATABASE_URL"]; url != "" {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			s.t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
		if err != nil {
			s.t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(tables) < 5 {
			s.t.Fatalf("tables: %v %v", tables, err)
		}
		for _, tbl := range tables {
			// bytea as its bytes (convert_from would fail on binary): each
			// column by itself through a text cast of the row is hex, so
			// read every column raw.
			rows, err := conn.Query(ctx, `SELECT * FROM `+pgx.Identifier{tbl}.Sanitize())
			if err != nil {
				s.t.Fatal(err)
			}
			for rows.Next() {
				for _, raw := range rows.RawValues() {
					dump.Write(raw)
					dump.WriteByte('\n')
				}
			}
			if rows.Err() != nil {
				s.t.Fatal(rows.Err())
			}
		}
		return dump.String()
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.env["SM_DATA_DIR"], "sessionmanager.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		s.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			s.t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 5 {
		s.t.Fatalf("tables: %v", tables)
	}
	for _, tbl := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+tbl+`"`)
		if err != nil {
			s.t.Fatalf("%s: %v", tbl, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				s.t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					dump.Write(b)
				} else {
					fmt.Fprint(&dump, v)
				}
				dump.WriteByte('\n')
			}
		}
		rows.Close()
	}
	return dump.String()
}

// TestGDPRErasureOfMagicLinkSignUp: a user who tried a password login
// before having an account, then signed up by magic link, leaves events
// that hold the email without a user id. Erasing the user by id reaches
// them too: no table holds the address afterwards, and the chain verifies.
func TestGDPRErasureOfMagicLinkSignUp(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			env := map[string]string{"SM_MAGIC_LINK_SIGNUP": "true"}
			if kind == "postgres" {
				env = postgresEnv(t)
				env["SM_MAGIC_LINK_SIGNUP"] = "true"
			}
			s, box := startMagicServer(t, env)
			const email = "quinn.private@example.com"
			if code, _, _ := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "Quinn.Private@Example.com", "password": "a guess"}); code != 400 && code != 401 {
				t.Fatalf("failed login before sign-up: %d", code)
			}
			tok := s.requestLink(t, box, email)
			code, _, login := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
			user, _ := login["user"].(map[string]any)
			if code != 200 || str(user, "email") != email {
				t.Fatalf("sign-up by magic link: %d %v", code, login)
			}
			uid := str(user, "id")
			// A link to the now known account names the user by id.
			s.requestLink(t, box, email)
			read, write := s.adminToken("read"), s.adminToken("write")
			sent := s.listAll("/api/admin/audit?type=magic_link.sent", read)
			if len(sent) != 2 || sent[0]["userId"] != uid {
				t.Fatalf("magic_link.sent events (newest first): %v", sent)
			}
			if !strings.Contains(strings.ToLower(s.dumpTables()), email) {
				t.Fatal("the dump does not show the email before erasure: the search is blind")
			}
			if code, _, body := s.call("DELETE", "/api/admin/users/"+uid+"/personal-data", write, nil); code != 200 {
				t.Fatalf("erase: %d %v", code, body)
			}
			dump := strings.ToLower(s.dumpTables())
			for _, trace := range []string{email, "quinn.private"} {
				if i := strings.Index(dump, trace); i >= 0 {
					t.Errorf("%q survived the erasure: ...%q...", trace, dump[max(0, i-100):min(len(dump), i+60)])
				}
			}
			out, err := s.auditVerify()
			if err != nil || !strings.Contains(out, "audit chain intact") {
				t.Fatalf("audit verify after erasure: %q %v", out, err)
			}
			if v := s.apiVerify(read); v["ok"] != true {
				t.Errorf("API verify after erasure: %v", v)
			}
		})
	}
}
