package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// Page sizes of list queries.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// pageLimit applies the default and the cap to a requested page size.
func pageLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

// micro stores t as unix microseconds; the zero time is NULL.
func micro(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicro reads a time stored by micro, in UTC.
func fromMicro(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// timeOf reads a NOT NULL time column.
func timeOf(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullText stores "" as NULL (for unique columns where many may be empty).
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// blob stores b byte-exact; nil stays NULL.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return []byte(b)
}

// bit stores a bool as 0 or 1.
func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// likeContains turns s into a LIKE pattern (used with ESCAPE '\') that
// matches s as a plain substring: % _ and \ in s lose their meaning.
func likeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// badCursor is the error for a cursor the store did not make.
func badCursor() error {
	return sessionmanager.InvalidFields(map[string]string{"cursor": "is not a cursor of this list"})
}

// encodeCursor makes the opaque cursor of a row: its sort key and id.
func encodeCursor(key int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(key, 10) + ":" + id))
}

// decodeCursor reads a cursor made by encodeCursor.
func decodeCursor(c string) (key int64, id string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", badCursor()
	}
	k, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return 0, "", badCursor()
	}
	key, err = strconv.ParseInt(k, 10, 64)
	if err != nil {
		return 0, "", badCursor()
	}
	return key, id, nil
}

// encodeSeqCursor makes the cursor of a list keyed by an integer id alone.
func encodeSeqCursor(n int64) string { return encodeCursor(n, "") }

// decodeSeqCursor reads a cursor made by encodeSeqCursor.
func decodeSeqCursor(c string) (int64, error) {
	n, _, err := decodeCursor(c)
	return n, err
}

// where collects the conditions and arguments of a query.
type where struct {
	conds []string
	args  []any
}

// add appends a condition with its arguments.
func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// String is the WHERE clause, or "" when there is no condition.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// sqlQuerier is a *sql.DB or a *sql.Tx.
type sqlQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// isNoRows reports whether err is sql.ErrNoRows.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// queryAll runs a query through q and reads every row with scan.
func queryAll[T any](ctx context.Context, q sqlQuerier, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// pageOf trims rows fetched with LIMIT limit+1 to limit and, when a row
// was left over, returns the cursor of the page's last row.
func pageOf[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[limit-1])
}
