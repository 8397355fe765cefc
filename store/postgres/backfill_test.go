package postgres_test

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// TestBackfillUserKeys: rows from before migration 0004 (no identity keys)
// get them when the store opens; of an existing look-alike pair the older
// keeps the key and the newer its lower-cased form, and none is left
// without a key.
func TestBackfillUserKeys(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresSchema(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range [][3]string{
		{"u-old", "alice@example.com", "alice"},
		{"u-fw", "fw@example.com", "ａlice"},
		{"u-cap", "Zoe@Example.com", "ZOE"},
	} {
		at := t0.Add(time.Duration(i) * time.Minute)
		if _, err := s.Pool().Exec(ctx, `INSERT INTO users (id, email, username, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
			r[0], r[1], r[2], at); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = postgres.Open(ctx, url); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM users WHERE email_key IS NULL OR username_key IS NULL`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("rows left without keys: %d %v", left, err)
	}
	for id, want := range map[string]string{"zoe": "u-cap", "zoe@example.com": "u-cap", "ＡＬＩＣＥ": "u-old", "fw@example.com": "u-fw"} {
		u, err := s.UserByIdentifier(ctx, id)
		if err != nil || u.ID != want {
			t.Errorf("lookup %q: %v %v, want %s", id, u, err, want)
		}
	}
	err = s.CreateUser(ctx, &sm.User{ID: "u-new", Email: "new@example.com", Username: "ｚｏｅ", CreatedAt: t0})
	if sm.ErrorCode(err) != sm.ECONFLICT {
		t.Errorf("a look-alike of a backfilled name: %v", err)
	}
}
