package sessionmanager_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// secretsOf lists every issued secret of a login+refresh run.
func secretsRun(t *testing.T, e *env) []string {
	reg := e.register("zoe")
	r1, err := e.m.Refresh(e.ctx, reg.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}
	login := e.login("zoe")
	plain, _, err := sm.NewAdminToken(e.ctx, e.store, e.secrets, "ci", sm.ScopeRead, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Account tokens: the sign-up's confirmation and a reset code.
	if reg.Confirmation == nil {
		t.Fatal("the sign-up has no confirmation token")
	}
	reset, err := e.m.IssuePasswordReset(e.ctx, "zoe@example.com", client)
	if err != nil || reset == nil {
		t.Fatalf("reset: %v", err)
	}
	if err := e.m.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	return []string{reg.AccessToken, reg.RefreshToken, r1.AccessToken, r1.RefreshToken, login.AccessToken, login.RefreshToken, plain,
		reg.Confirmation.Token, reset.Token,
		"a long enough password",
		// The JWT signature alone is as good as the token for a forger's replay.
		reg.AccessToken[strings.LastIndexByte(reg.AccessToken, '.')+1:]}
}

func TestNoTokenInClearInSQLiteFile(t *testing.T) {
	e := newEnv(t, storeKinds[0])
	secrets := secretsRun(t, e)
	// Checkpoint the WAL so everything is in files we read (we read the WAL too).
	e.store.Close()
	var all []byte
	matches, _ := filepath.Glob(e.path + "*")
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) < 4096 {
		t.Fatalf("read only %d bytes from %v", len(all), matches)
	}
	for _, s := range secrets {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("secret %q... found in clear in the SQLite files", s[:10])
		}
	}
}

func TestNoTokenInClearInPostgres(t *testing.T) {
	url := testenv.PostgresSchema(t)
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	k := storeKind{"postgres", func(testing.TB) (storetest.Store, string) { return st, "" }}
	e := newEnv(t, k)
	secrets := secretsRun(t, e)
	conn, err := pgx.Connect(e.ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(e.ctx)
	rows, err := conn.Query(e.ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	var dump strings.Builder
	for _, tbl := range tables {
		rows, err := conn.Query(e.ctx, `SELECT row_to_json(t)::text FROM `+pgx.Identifier{tbl}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			dump.WriteString(l)
		}
	}
	if dump.Len() < 1000 {
		t.Fatalf("dump too small: %d bytes", dump.Len())
	}
	for _, s := range secrets {
		if strings.Contains(dump.String(), s) {
			t.Errorf("secret %q... found in clear in Postgres", s[:10])
		}
	}
}
