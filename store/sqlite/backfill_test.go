package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// TestBackfillUserKeys: rows from before migration 0004 (keys only
// lower-cased, key_form 0) get their identity keys when the store opens;
// of an existing look-alike pair the older keeps the key and the newer
// its old one, and nothing is left unconverted.
func TestBackfillUserKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sm.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i, r := range [][3]string{
		{"u-old", "alice@example.com", "alice"},
		{"u-fw", "fw@example.com", "ａlice"},
		{"u-cap", "Zoe@Example.com", "ZOE"},
	} {
		if _, err := s.write.ExecContext(ctx, `INSERT INTO users (id, email, email_key, username, username_key, key_form, created_at)
			VALUES (?, ?, lower(?), ?, lower(?), 0, ?)`, r[0], r[1], r[1], r[2], r[2], t0.Add(time.Duration(i)*time.Minute).UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var left int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE key_form = 0`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("rows left unconverted: %d %v", left, err)
	}
	for id, want := range map[string]string{"zoe": "u-cap", "zoe@example.com": "u-cap", "ＡＬＩＣＥ": "u-old", "fw@example.com": "u-fw"} {
		u, err := s.UserByIdentifier(ctx, id)
		if err != nil || u.ID != want {
			t.Errorf("lookup %q: %v %v, want %s", id, u, err, want)
		}
	}
	err = s.CreateUser(ctx, &sessionmanager.User{ID: "u-new", Email: "new@example.com", Username: "ｚｏｅ", CreatedAt: t0})
	if sessionmanager.ErrorCode(err) != sessionmanager.ECONFLICT {
		t.Errorf("a look-alike of a backfilled name: %v", err)
	}
}
