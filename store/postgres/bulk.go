package postgres

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// bulkChunk is how many rows one COPY statement carries, so the counter
// triggers' transition tables stay bounded.
const bulkChunk = 250_000

// BulkLoad copies users, then sessions, into the store with COPY (bulkChunk
// rows per statement) in one transaction that first drops the two tables'
// plain secondary indexes and builds them again at the end, sorted in bulk
// rather than row by row (the trigram GIN indexes above all), then runs
// VACUUM ANALYZE of the two tables and of the counter tables the triggers
// filled (fresh planner statistics and visibility map, as autovacuum would
// leave them: a counter table last analyzed when it was empty, by its
// migration, was read by a sequential scan where its index answers in a
// few rows; docs/SCALE.md). Unique and primary-key indexes stay, so
// every row is still checked; the counter triggers run per COPY. If the
// load fails, the transaction rolls back, dropped indexes included. A
// VACUUM ANALYZE that fails after the commit does not undo the load: it
// is a *sm.BulkLoadWarning. It implements sm.BulkLoader.
func (s *Store) BulkLoad(ctx context.Context, users iter.Seq[*sm.User], sessions iter.Seq[*sm.Session]) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '256MB'"); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
			FROM pg_index i
			WHERE i.indrelid IN ('users'::regclass, 'sessions'::regclass)
			  AND NOT i.indisunique AND NOT i.indisprimary
			  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`)
		indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var nd [2]string
			return nd, r.Scan(&nd[0], &nd[1])
		})
		if err != nil {
			return fmt.Errorf("list indexes: %w", err)
		}
		for _, ix := range indexes {
			if _, err := tx.Exec(ctx, "DROP INDEX "+ix[0]); err != nil {
				return fmt.Errorf("drop index %s: %w", ix[0], err)
			}
		}
		if err := copySeq(ctx, tx, "users", userInsertColumns, users, func(u *sm.User) ([]any, error) { return userValues(u), nil }); err != nil {
			return err
		}
		if err := copySeq(ctx, tx, "sessions", sessionInsertColumns, sessions, sessionValues); err != nil {
			return err
		}
		for _, ix := range indexes {
			if _, err := tx.Exec(ctx, ix[1]); err != nil {
				return fmt.Errorf("rebuild index %s: %w", ix[0], err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: bulk load: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE users, sessions, "+strings.Join(counterTables, ", ")); err != nil {
		return &sm.BulkLoadWarning{Err: fmt.Errorf("postgres: vacuum analyze after the load: %w", err)}
	}
	return nil
}

// copySeq copies the rows of seq into table, bulkChunk rows per COPY.
func copySeq[T any](ctx context.Context, tx pgx.Tx, table string, cols []string, seq iter.Seq[T], values func(T) ([]any, error)) error {
	next, stop := iter.Pull(seq)
	defer stop()
	src := &seqSource[T]{next: next, values: values}
	for !src.done {
		src.left = bulkChunk
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
			return fmt.Errorf("copy %s: %w", table, mapErr(err, table))
		}
	}
	return nil
}

// seqSource is a pgx.CopyFromSource over a pulled sequence that ends
// each COPY after left rows.
type seqSource[T any] struct {
	next   func() (T, bool)
	values func(T) ([]any, error)
	row    []any
	err    error
	left   int
	done   bool
}

func (c *seqSource[T]) Next() bool {
	if c.left == 0 || c.done || c.err != nil {
		return false
	}
	v, ok := c.next()
	if !ok {
		c.done = true
		return false
	}
	c.left--
	c.row, c.err = c.values(v)
	return c.err == nil
}

func (c *seqSource[T]) Values() ([]any, error) { return c.row, nil }
func (c *seqSource[T]) Err() error             { return c.err }
