package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	"github.com/magic-sessionmanager/sessionmanager"
)

const (
	// bulkRows is how many rows one INSERT statement of a bulk load
	// carries (34 columns: well under SQLite's 32,766 variables).
	bulkRows = 25
	// bulkTxRows is how many rows one transaction of a bulk load writes,
	// so the WAL stays bounded and sign-ins are not held for the whole load.
	bulkTxRows = 100_000
)

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
// It implements sessionmanager.BulkLoader.
func (s *Store) BulkLoad(ctx context.Context, users iter.Seq[*sessionmanager.User], sessions iter.Seq[*sessionmanager.Session]) error {
	// A page cache large enough for a transaction's index and FTS pages:
	// with the default 2 MB, SQLite spills them to the WAL mid-transaction
	// and the load spends its time in pwrite.
	if _, err := s.write.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
		return fmt.Errorf("sqlite: bulk load cache: %w", err)
	}
	defer s.write.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size = -2000")
	if err := insertSeq(ctx, s, "users", userInsertColumns, users, func(u *sessionmanager.User) ([]any, error) { return userValues(u), nil }); err != nil {
		return err
	}
	if err := insertSeq(ctx, s, "sessions", sessionInsertColumns, sessions, sessionValues); err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("sqlite: analyze after the load: %w", err)
	}
	return nil
}

// insertSeq inserts the rows of seq into table.
func insertSeq[T any](ctx context.Context, s *Store, table string, cols []string, seq iter.Seq[T], values func(T) ([]any, error)) error {
	next, stop := iter.Pull(seq)
	defer stop()
	args := make([]any, 0, bulkRows*len(cols))
	for done := false; !done; {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			full, err := tx.PrepareContext(ctx, insertRowsSQL(table, cols, bulkRows))
			if err != nil {
				return err
			}
			defer full.Close()
			for n := 0; n < bulkTxRows; n += bulkRows {
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
				if err != nil || done {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: bulk insert into %s: %w", table, err)
		}
	}
	return nil
}
