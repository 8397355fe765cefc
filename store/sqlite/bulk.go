package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	"github.com/magic-sessionmanager/sessionmanager"
)

// bulkRows is how many rows one INSERT statement of a bulk load carries
// (34 columns: well under SQLite's 32,766 variables).
const bulkRows = 25

// bulkTxRows is how many rows one transaction of a bulk load writes, so
// the WAL stays bounded and sign-ins are not held for the whole load (a
// variable for the tests).
var bulkTxRows = 100_000

// insertRowsSQL is an INSERT of rows rows of cols into table.
func insertRowsSQL(table string, cols []string, rows int) string {
	var b strings.Builder
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// BulkLoad inserts users, then sessions, bulkRows rows per prepared
// INSERT and bulkTxRows per transaction, then runs ANALYZE. The row
// triggers keep the counters and the search tables as for single writes.
// A load is all or nothing: when it fails, the rows its committed
// transactions wrote are deleted again (each transaction's rows are one
// rowid range, as the single writer is held for the transaction); an
// ANALYZE failing after the load is a *sessionmanager.BulkLoadWarning.
// It implements sessionmanager.BulkLoader.
func (s *Store) BulkLoad(ctx context.Context, users iter.Seq[*sessionmanager.User], sessions iter.Seq[*sessionmanager.Session]) error {
	// A page cache large enough for a transaction's index and FTS pages:
	// with the default 2 MB, SQLite spills them to the WAL mid-transaction
	// and the load spends its time in pwrite.
	if _, err := s.write.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
		return fmt.Errorf("sqlite: bulk load cache: %w", err)
	}
	defer s.write.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size = -2000")
	var loaded []rowidRange
	err := insertSeq(ctx, s, "users", userInsertColumns, users, func(u *sessionmanager.User) ([]any, error) { return userValues(u), nil }, &loaded)
	if err == nil {
		err = insertSeq(ctx, s, "sessions", sessionInsertColumns, sessions, sessionValues, &loaded)
	}
	if err != nil {
		if cerr := s.unload(context.WithoutCancel(ctx), loaded); cerr != nil {
			return fmt.Errorf("%w; deleting the rows it had committed failed too, so some stay: %v", err, cerr)
		}
		return err
	}
	if _, err := s.write.ExecContext(ctx, "ANALYZE"); err != nil {
		return &sessionmanager.BulkLoadWarning{Err: fmt.Errorf("sqlite: analyze after the load: %w", err)}
	}
	return nil
}

// rowidRange is the rows (lo, hi] of table one committed transaction of a
// bulk load wrote.
type rowidRange struct {
	table  string
	lo, hi int64
}

// unload deletes the rows of a failed bulk load in one transaction,
// sessions before users (the sessions refer to them); the delete triggers
// take the counters and search tables back.
func (s *Store) unload(ctx context.Context, loaded []rowidRange) error {
	if len(loaded) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for i := len(loaded) - 1; i >= 0; i-- {
			r := loaded[i]
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+r.table+" WHERE rowid > ? AND rowid <= ?", r.lo, r.hi); err != nil {
				return fmt.Errorf("sqlite: delete the loaded %s: %w", r.table, err)
			}
		}
		return nil
	})
}

// maxRowid is the largest rowid of table (0 when empty).
func maxRowid(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, "SELECT coalesce(max(rowid), 0) FROM "+table).Scan(&n)
	return n, err
}

// insertSeq inserts the rows of seq into table, adding the rowid range of
// each committed transaction to loaded.
func insertSeq[T any](ctx context.Context, s *Store, table string, cols []string, seq iter.Seq[T], values func(T) ([]any, error), loaded *[]rowidRange) error {
	next, stop := iter.Pull(seq)
	defer stop()
	args := make([]any, 0, bulkRows*len(cols))
	for done := false; !done; {
		r := rowidRange{table: table}
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			if r.lo, err = maxRowid(ctx, tx, table); err != nil {
				return err
			}
			full, err := tx.PrepareContext(ctx, insertRowsSQL(table, cols, bulkRows))
			if err != nil {
				return err
			}
			defer full.Close()
			for n := 0; n < bulkTxRows && !done; n += bulkRows {
				args = args[:0]
				for len(args) < cap(args) {
					v, ok := next()
					if !ok {
						done = true
						break
					}
					row, err := values(v)
					if err != nil {
						return err
					}
					args = append(args, row...)
				}
				switch {
				case len(args) == cap(args):
					_, err = full.ExecContext(ctx, args...)
				case len(args) > 0:
					_, err = tx.ExecContext(ctx, insertRowsSQL(table, cols, len(args)/len(cols)), args...)
				}
				if err != nil {
					return err
				}
			}
			r.hi, err = maxRowid(ctx, tx, table)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: bulk insert into %s: %w", table, err)
		}
		*loaded = append(*loaded, r)
	}
	return nil
}
