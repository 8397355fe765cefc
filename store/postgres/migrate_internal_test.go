package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestMigrationVacuum: migration 0020 rewrites sessions and indexes users
// for index-only lookups, and 0024 rewrites users (a generated column), so
// they name the tables to vacuum once they commit
// (migrate runs VACUUM for each name; TestMigrationVacuumIsRunUntilDone:
// a failed one is run again at the next start), and only the directive's
// lines count.
func TestMigrationVacuum(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		want := []string(nil)
		switch m.version {
		case 20:
			want = []string{"sessions", "users"}
		case 24:
			want = []string{"users"}
		}
		if !slices.Equal(m.vacuum, want) {
			t.Errorf("migration %04d vacuums %q, want %q", m.version, m.vacuum, want)
		}
	}
	got := vacuumTables("-- vacuum after: a, b\nSELECT 1; -- vacuum after: c\n  -- vacuum after:d\n-- vacuum after:\n")
	if !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("vacuumTables = %q, want [a b d]", got)
	}
}

// TestMigrationVacuumIsRunUntilDone: a migration whose vacuum fails is
// applied once, and its vacuum is run again by every later start until it
// succeeds (it used to be skipped: the migration was recorded, so the next
// start saw nothing to do). Rows applied before the vacuumed column count
// as done, and a migration with nothing to vacuum is done at once.
func TestMigrationVacuumIsRunUntilDone(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// A schema_migrations from before the column, with an old migration
	// whose vacuum would fail now: it must not be run again.
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO schema_migrations (version, name) VALUES (1, 'old')`); err != nil {
		t.Fatal(err)
	}
	ms := []migration{
		{version: 1, name: "old", sql: "SELECT 1", vacuum: []string{"gone"}},
		{version: 2, name: "plain", sql: "CREATE TABLE plain (x int)"},
		{version: 3, name: "rewrite", sql: "CREATE TABLE rewritten (x int)", vacuum: []string{"rewritten", "later"}},
	}
	err = applyMigrations(ctx, pool, ms)
	if err == nil || !strings.Contains(err.Error(), "vacuum later") {
		t.Fatalf("first start: %v, want the vacuum of later to fail", err)
	}
	state := func() map[int]bool {
		rows, err := pool.Query(ctx, `SELECT version, vacuumed FROM schema_migrations`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int]bool{}
		for rows.Next() {
			var v int
			var done bool
			if err := rows.Scan(&v, &done); err != nil {
				t.Fatal(err)
			}
			got[v] = done
		}
		return got
	}
	if got := state(); !got[1] || !got[2] || got[3] {
		t.Fatalf("after the failed vacuum: %v, want 1 and 2 done, 3 applied with its vacuum due", got)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE later (x int)`); err != nil {
		t.Fatal(err)
	}
	// The second start runs the vacuum again (migration 3 itself is not
	// applied twice: its CREATE TABLE would fail).
	if err := applyMigrations(ctx, pool, ms); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if got := state(); len(got) != 3 || !got[1] || !got[2] || !got[3] {
		t.Fatalf("after the second start: %v, want all done", got)
	}
}
