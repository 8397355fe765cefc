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
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, v := range versions {
		applied[int(v)] = true
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: %w", m.version, m.name, err)
		}
		for _, t := range m.vacuum {
			if _, err := conn.Exec(ctx, "VACUUM "+pgx.Identifier{t}.Sanitize()); err != nil {
				return fmt.Errorf("postgres: migration %04d_%s: vacuum %s: %w", m.version, m.name, t, err)
			}
		}
	}
	return nil
}
