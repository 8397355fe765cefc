package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestMigrationTicksBackfill: migration 0026 counts the live sessions that
// exist when it runs into session_ticks, by the ten-second tick of their
// last sight, and the new trigger keeps counting: the counters equal a scan
// of the live sessions after the backfill, after touches across ticks and
// after ends.
func TestMigrationTicksBackfill(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for k < len(ms) && ms[k].version < 26 {
		k++
	}
	if k == len(ms) || ms[k].version != 26 {
		t.Fatal("no migration 0026")
	}
	if err := applyMigrations(ctx, pool, ms[:k]); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	// 300 sessions, last seen every 1.7 s from base: several to a tick;
	// every fifth ended, which counts in no tick.
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, email, username, created_at, updated_at) VALUES ('u', 'u@example.com', 'u', $1, $1)`, base); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO sessions (id, user_id, status, created_at, last_seen, expires_at, ended_at)
		SELECT 's' || i, 'u', CASE WHEN i % 5 = 0 THEN 'ended' ELSE 'active' END, $1::timestamptz - interval '1 hour',
			$1::timestamptz + i * interval '1.7 seconds', $1::timestamptz + interval '1 day',
			CASE WHEN i % 5 = 0 THEN $1::timestamptz + i * interval '1.7 seconds' END
		FROM generate_series(1, 300) i`, base); err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(ctx, pool, ms); err != nil {
		t.Fatal(err)
	}
	same := func(step string) {
		t.Helper()
		var wrong, ticks int
		if err := pool.QueryRow(ctx, `WITH want AS (
				SELECT floor(extract(epoch FROM last_seen) / 10)::int8 AS tick, count(*) AS n FROM sessions WHERE status <> 'ended' GROUP BY 1),
			got AS (SELECT tick, sum(live) AS n FROM session_ticks GROUP BY tick HAVING sum(live) <> 0)
			SELECT count(*) FILTER (WHERE want.n IS DISTINCT FROM got.n), count(*) FROM want FULL JOIN got USING (tick)`).Scan(&wrong, &ticks); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 || ticks < 40 {
			t.Errorf("%s: %d of %d ticks differ from a scan of the live sessions", step, wrong, ticks)
		}
		// The Go side numbers ticks as the SQL side does.
		var sqlTick int64
		at := base.Add(123456789 * time.Microsecond)
		if err := pool.QueryRow(ctx, `SELECT unix_tick($1)`, at).Scan(&sqlTick); err != nil || sqlTick != unixTick(at) {
			t.Errorf("unix_tick(%v) = %d, %v; unixTick = %d", at, sqlTick, err, unixTick(at))
		}
	}
	same("backfilled")
	if _, err := pool.Exec(ctx, `UPDATE sessions SET last_seen = last_seen + interval '7 seconds' WHERE id IN (SELECT 's' || i FROM generate_series(1, 300, 3) i)`); err != nil {
		t.Fatal(err)
	}
	same("touched")
	if _, err := pool.Exec(ctx, `UPDATE sessions SET status = 'ended', ended_at = last_seen WHERE id IN (SELECT 's' || i FROM generate_series(2, 300, 7) i)`); err != nil {
		t.Fatal(err)
	}
	same("ended")
	var old int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = 'session_minutes' AND relnamespace = current_schema()::regnamespace`).Scan(&old); err != nil || old != 0 {
		t.Errorf("session_minutes left: %d %v", old, err)
	}
}
