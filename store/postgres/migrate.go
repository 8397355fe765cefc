package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockClass is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema, so two schemas of one
// database migrate independently.
const migrationLockClass = 0x534d3031 // "SM01"

// migration is one numbered SQL file.
type migration struct {
	version int
	name    string
	sql     string
	// vacuum are the tables its "-- vacuum after: t1, t2" lines name: they
	// are vacuumed once the migration commits, outside its
	// transaction, which VACUUM cannot run in. A migration that rewrites a
	// table leaves it without a visibility map: until a vacuum, index-only
	// scans read the table too.
	vacuum []string
}

// vacuumDirective starts a migration line that names tables to vacuum after it.
const vacuumDirective = "-- vacuum after:"

// vacuumTables reads the tables of a migration's vacuumDirective lines.
func vacuumTables(sql string) []string {
	var tables []string
	for line := range strings.Lines(sql) {
		list, ok := strings.CutPrefix(strings.TrimSpace(line), vacuumDirective)
		if !ok {
			continue
		}
		for t := range strings.SplitSeq(list, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tables = append(tables, t)
			}
		}
	}
	return tables
}

// loadMigrations reads the embedded NNNN_name.sql files in version order.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, rest, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("postgres: migration %q is not named NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: strings.TrimSuffix(rest, ".sql"), sql: string(body), vacuum: vacuumTables(string(body))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("postgres: two migrations numbered %d", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the pending migrations, each in its own transaction, while
// holding a session advisory lock so that instances starting together apply
// each migration exactly once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return applyMigrations(ctx, pool, ms)
}

// applyMigrations applies ms (in order) where they are not applied yet, and
// runs the vacuums still due. A migration's vacuums are due from its commit
// (schema_migrations.vacuumed is false) until they all succeed: one that
// fails fails this start, and the next start runs them again rather than
// skipping them (the migration itself is not applied twice).
func applyMigrations(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	const lockKey = `hashtext(coalesce(current_schema(), ''))`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, `+lockKey+`)`, migrationLockClass); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must run even when ctx is done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, `+lockKey+`)`, migrationLockClass)
	}()
	// vacuumed: rows from before the column were vacuumed (or had nothing
	// to vacuum) when they were applied.
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now());
		ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS vacuumed boolean NOT NULL DEFAULT true`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	vacuumed := map[int]bool{} // applied versions: vacuums done
	rows, err := conn.Query(ctx, `SELECT version, vacuumed FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var (
		v    int32
		done bool
	)
	if _, err := pgx.ForEachRow(rows, []any{&v, &done}, func() error { vacuumed[int(v)] = done; return nil }); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		done, applied := vacuumed[m.version]
		if !applied {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, m.sql); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, vacuumed) VALUES ($1, $2, $3)`,
					m.version, m.name, len(m.vacuum) == 0)
				return err
			})
			if err != nil {
				return fmt.Errorf("postgres: migration %04d_%s: %w", m.version, m.name, err)
			}
			done = len(m.vacuum) == 0
		}
		if done {
			continue
		}
		for _, t := range m.vacuum {
			if _, err := conn.Exec(ctx, "VACUUM "+pgx.Identifier{t}.Sanitize()); err != nil {
				return fmt.Errorf("postgres: migration %04d_%s: vacuum %s (run again at the next start): %w", m.version, m.name, t, err)
			}
		}
		if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET vacuumed = true WHERE version = $1`, m.version); err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}
