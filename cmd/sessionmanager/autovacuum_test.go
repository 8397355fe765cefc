package main

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestAutovacuumOffIsLogged: on a PostgreSQL whose autovacuum is off (the
// CI machine's), the server says at start-up that the counter tables behind
// Stats will slow; with it on, it says nothing.
func TestAutovacuumOffIsLogged(t *testing.T) {
	env := postgresEnv(t)
	conn, err := pgx.Connect(t.Context(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	var setting string
	err = conn.QueryRow(t.Context(), `SHOW autovacuum`).Scan(&setting)
	_ = conn.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, env)
	logged := strings.Contains(s.stderr.String(), "autovacuum is off")
	if logged != (setting == "off") {
		t.Fatalf("autovacuum %s: warning logged %v\n%s", setting, logged, s.stderr.String())
	}
}
