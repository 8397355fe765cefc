package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sm "github.com/magic-sessionmanager/sessionmanager"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestBulkLoadVacuumFailureIsAWarning: VACUUM ANALYZE failing after the
// load's commit (here cancelled, as an admin would) leaves every row
// loaded, and BulkLoad says so with a *sm.BulkLoadWarning instead of
// reporting a failed load. VACUUM is held behind a lock queued while the
// load ran, so it can be caught and cancelled.
func TestBulkLoadVacuumFailureIsAWarning(t *testing.T) {
	base := testenv.PostgresSchema(t)
	s, app := openNamed(t, base)
	ctx := t.Context()
	admin, err := pgxpool.New(ctx, base) // used by two goroutines
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	locker, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	// waiting is the pid of a backend whose query starts with prefix and
	// waits for a lock (0: none yet).
	waiting := func(prefix string) (pid int32) {
		_ = admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND (application_name = $1 OR pid = $2) AND query LIKE $3 LIMIT 1`,
			app, int32(locker.PgConn().PID()), prefix+"%").Scan(&pid)
		return pid
	}

	const n = 10
	locked := make(chan error, 1)
	users := func(yield func(*sm.User) bool) {
		for i := range n {
			if i == n/2 {
				// The load holds users: queue a lock behind it that
				// VACUUM will wait for once the load has committed.
				go func() {
					_, err := locker.Exec(ctx, `BEGIN; LOCK TABLE users IN SHARE MODE`)
					locked <- err
				}()
				// (Not Eventually: this runs in the COPY's goroutine, where
				// t.Fatal would leave the COPY hanging.)
				deadline := time.Now().Add(testenv.WaitLimit)
				for waiting("BEGIN") == 0 {
					if time.Now().After(deadline) {
						t.Error("the lock never queued behind the load")
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			if !yield(&sm.User{ID: fmt.Sprint("u", i), Email: fmt.Sprint("u", i, "@example.com"), CreatedAt: t0, UpdatedAt: t0}) {
				return
			}
		}
	}
	sessions := slices.Values([]*sm.Session{{ID: "s0", UserID: "u0", CreatedAt: t0, ExpiresAt: t0.AddDate(0, 0, 30)}})
	cancelled := make(chan error, 1)
	go func() {
		var pid int32
		testenv.Eventually(t, "VACUUM to wait for the lock", func() bool { pid = waiting("VACUUM"); return pid != 0 })
		_, err := admin.Exec(ctx, `SELECT pg_cancel_backend($1)`, pid)
		cancelled <- err
	}()
	err = s.BulkLoad(ctx, users, sessions)
	if err := testenv.Recv(t, cancelled, "VACUUM cancelled"); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, locked, "the lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Exec(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	var warning *sm.BulkLoadWarning
	if !errors.As(err, &warning) {
		t.Fatalf("bulk load with VACUUM cancelled: %T %v, want a *sm.BulkLoadWarning", err, err)
	}
	us, _, err := s.ListUsers(ctx, sm.UserFilter{Limit: 100})
	if err != nil || len(us) != n {
		t.Fatalf("users after the load: %d, %v; want all %d", len(us), err, n)
	}
	if _, err := s.SessionByID(ctx, "s0"); err != nil {
		t.Fatalf("the loaded session: %v", err)
	}
}

// TestBulkLoadAnalyzesTheCounters: after a bulk load, the counter tables
// the triggers filled have planner statistics of what they hold. They were
// last analyzed by their migrations, empty, and on a server without
// autovacuum Stats then read session_ticks by a sequential scan (23-38 ms
// instead of 1-5 ms at 10 M, docs/SCALE.md).
func TestBulkLoadAnalyzesTheCounters(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	users := slices.Values([]*sm.User{{ID: "u0", Email: "u0@example.com", CreatedAt: t0, UpdatedAt: t0}})
	var sessions []*sm.Session
	for i := range 50 {
		at := t0.Add(time.Duration(i) * 17 * time.Second)
		sessions = append(sessions, &sm.Session{ID: fmt.Sprint("s", i), UserID: "u0", Status: sm.StatusActive, CreatedAt: at,
			LastSeenAt: at, ExpiresAt: t0.AddDate(0, 0, 30), Location: sm.Location{CountryCode: "DE"}})
	}
	if err := s.BulkLoad(ctx, users, slices.Values(sessions)); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"session_days", "session_live", "session_hours", "session_ticks", "user_counts"} {
		var tuples float64
		if err := s.Pool().QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table).Scan(&tuples); err != nil {
			t.Fatal(err)
		}
		if tuples < 1 {
			t.Errorf("%s: the planner counts %v rows after the load, want its rows (analyzed)", table, tuples)
		}
	}
}
