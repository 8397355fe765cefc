package postgres_test

import (
	"context"
	"slices"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// TestMigrationISPColumn: sessions stored before migration 0020 get their
// ISP column from their location, the column follows later writes of the
// location, and the rebuilt search index finds them by ISP. (That the
// rewritten table is vacuumed is TestMigrationVacuum: whether a vacuum can
// mark pages all-visible depends on the other transactions of the server.)
func TestMigrationISPColumn(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresSchema(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, `INSERT INTO users (id, email, username, created_at, updated_at) VALUES ('u-1', 'a@example.com', 'a', $1, $1)`, t0)
	// 2,000 sessions over several pages; every third one has no ISP.
	mustExec(t, s, `INSERT INTO sessions (id, user_id, status, created_at, last_seen, expires_at, country_code, location)
		SELECT 's-' || i, 'u-1', 'active', $1::timestamptz + i * interval '1 second', $1, $1::timestamptz + interval '1 day', 'AU',
		       CASE WHEN i % 3 = 0 THEN '{"countryCode":"AU"}' ELSE '{"countryCode":"AU","isp":"Telstra ' || i || '"}' END
		FROM generate_series(1, 2000) AS i`, t0)
	// The schema as it was before 0020.
	mustExec(t, s, `ALTER TABLE sessions DROP COLUMN isp`) // and the search index on it
	mustExec(t, s, `DROP INDEX sessions_created_idx`)
	mustExec(t, s, `CREATE INDEX sessions_created_idx ON sessions (created_at, id) INCLUDE (status, last_seen, ended_at)`)
	mustExec(t, s, `DROP INDEX sessions_country_idx`)
	mustExec(t, s, `CREATE INDEX sessions_country_idx ON sessions (country_code, created_at)`)
	mustExec(t, s, `DROP INDEX users_search_names`)
	mustExec(t, s, `DELETE FROM schema_migrations WHERE version = 20`)
	s.Close()

	if s, err = postgres.Open(ctx, url); err != nil {
		t.Fatalf("reopen (migration 0020 on existing rows): %v", err)
	}
	defer s.Close()
	var wrong, withISP int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE isp <> coalesce(location::jsonb ->> 'isp', '')),
		count(*) FILTER (WHERE isp <> '') FROM sessions`).Scan(&wrong, &withISP); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 || withISP != 1334 {
		t.Errorf("after the migration: %d rows whose isp differs from their location, %d with an ISP (want 0, 1334)", wrong, withISP)
	}
	search := func(q string) []string {
		t.Helper()
		page, err := s.ListSessions(ctx, sm.SessionFilter{Search: q, Limit: 10})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var ids []string
		for _, x := range page.Sessions {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if got := search("telstra 1999"); len(got) != 1 || got[0] != "s-1999" {
		t.Errorf("search by a migrated row's ISP: %v, want [s-1999]", got)
	}
	// A later write of the location moves the ISP with it.
	mustExec(t, s, `UPDATE sessions SET location = '{"countryCode":"AU","isp":"Optus"}' WHERE id = 's-1999'`)
	if got := search("telstra 1999"); len(got) != 0 {
		t.Errorf("search by the old ISP after the update: %v, want none", got)
	}
	if got := search("optus"); len(got) != 1 || got[0] != "s-1999" {
		t.Errorf("search by the new ISP: %v, want [s-1999]", got)
	}
}

// TestSearchPlannedEachTime: a search is not a prepared statement of the
// connection (it is planned with its own string each time); as one,
// PostgreSQL would plan it once for any string after five executions, and
// at 10 M sessions the plan of a common string (walk the sort index)
// scans every session for a rare one. A list without a search stays a
// prepared statement.
func TestSearchPlannedEachTime(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, testenv.PostgresSchema(t)+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 6 {
		if _, err := s.ListSessions(ctx, sm.SessionFilter{Search: "telstra"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CountSessions(ctx, sm.SessionFilter{Search: "telstra"}, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ListSessions(ctx, sm.SessionFilter{Country: "AU"}); err != nil {
			t.Fatal(err)
		}
	}
	var search, plain int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE statement LIKE '%ILIKE%'),
		count(*) FILTER (WHERE statement LIKE '%country_code =%' AND statement NOT LIKE '%ILIKE%')
		FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared_statements%'`).Scan(&search, &plain); err != nil {
		t.Fatal(err)
	}
	if search != 0 || plain != 1 {
		t.Errorf("prepared statements on the connection: %d searches (want 0), %d plain lists (want 1)", search, plain)
	}
}

// TestMigrationUserSearchNames: users stored before migration 0024 get
// their search_names from their email and username, and the user arm of a
// session search and the user list find them through it, in any case.
func TestMigrationUserSearchNames(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresSchema(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, `INSERT INTO users (id, email, username, created_at, updated_at)
		SELECT 'u-' || i, 'Person' || i || '@Example.com', 'Name' || i, $1, $1 FROM generate_series(1, 300) AS i`, t0)
	mustExec(t, s, `INSERT INTO sessions (id, user_id, status, created_at, last_seen, expires_at, country_code, location)
		SELECT 's-' || i, 'u-' || (i % 300 + 1), 'active', $1::timestamptz + i * interval '1 second', $1,
		       $1::timestamptz + interval '1 day', 'AU', '{"countryCode":"AU"}'
		FROM generate_series(1, 900) AS i`, t0)
	// The schema as it was before 0024.
	mustExec(t, s, `ALTER TABLE users DROP COLUMN search_names`) // and its indexes
	mustExec(t, s, `CREATE INDEX users_search_names ON users (id) INCLUDE (email, username)`)
	mustExec(t, s, `DELETE FROM schema_migrations WHERE version = 24`)
	s.Close()

	if s, err = postgres.Open(ctx, url); err != nil {
		t.Fatalf("reopen (migration 0024 on existing rows): %v", err)
	}
	defer s.Close()
	var wrong int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM users
		WHERE search_names IS DISTINCT FROM lower(email) || E'\x1f' || lower(username)`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("after the migration: %d users whose search_names is not their lower-cased names", wrong)
	}
	var sessions []string
	for _, q := range []string{"person17@example", "NAME17"} {
		page, err := s.ListSessions(ctx, sm.SessionFilter{Search: q, Limit: 50})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		sessions = sessions[:0]
		for _, x := range page.Sessions {
			sessions = append(sessions, x.ID)
		}
		// u-17 has s-16, s-316, s-616; "name17" also matches u-170..u-179.
		if q == "person17@example" && !slices.Equal(sessions, []string{"s-16", "s-316", "s-616"}) {
			t.Errorf("search %q: %v, want [s-16 s-316 s-616] (oldest first)", q, sessions)
		}
		if q == "NAME17" && len(sessions) != 33 {
			t.Errorf("search %q: %d sessions, want 33 (users 17 and 170-179, 3 each)", q, len(sessions))
		}
	}
	users, _, err := s.ListUsers(ctx, sm.UserFilter{Search: "PERSON299@"})
	if err != nil || len(users) != 1 || users[0].ID != "u-299" {
		t.Errorf("user list search: %v %v, want u-299", users, err)
	}
}

// mustExec runs sql on s or fails the test.
func mustExec(t *testing.T, s *postgres.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
