package postgres

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Page sizes of every list.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// pageLimit applies the default and the cap to a requested page size.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullBytes keeps nil as NULL and an empty slice as an empty value.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// nullText stores "" as NULL, for optional unique columns.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// utcTime scans a timestamptz into a time.Time in UTC, NULL as the zero time.
type utcTime struct{ dst *time.Time }

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (u utcTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*u.dst = time.Time{}
		return nil
	}
	*u.dst = v.Time.UTC()
	return nil
}

// utc is the scan target of a time column.
func utc(t *time.Time) utcTime { return utcTime{dst: t} }

// textOrEmpty scans a nullable text column, NULL as "".
type textOrEmpty struct{ dst *string }

// ScanText implements pgtype.TextScanner.
func (s textOrEmpty) ScanText(v pgtype.Text) error {
	*s.dst = v.String
	return nil
}

// encodeCursor makes an opaque cursor of a page's last sort key.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor; a malformed one is EINVALID.
func decodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return sm.InvalidFields(map[string]string{"cursor": "is not a cursor of this list"})
	}
	return nil
}

// likePattern makes an ILIKE pattern matching s as a substring, with the
// pattern metacharacters of s escaped (used with ESCAPE '\').
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// storable reports whether PostgreSQL text can hold s: no NUL byte and valid
// UTF-8. A filter value that is not storable matches nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// jsonText encodes v for a JSON text column.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
