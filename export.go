package sessionmanager

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ExportWriter writes rows of T in one export format: csv (a header row
// and one escaped row per value), json (one streamed array) or ndjson (one
// JSON document per line).
type ExportWriter[T any] struct {
	format  string
	columns []string
	cells   func(T) []string
	csv     *csv.Writer
	rows    int
}

// NewExportWriter writes rows of T as format (csv, json, ndjson); csv
// rows are the columns header then cells of each value.
func NewExportWriter[T any](format string, columns []string, cells func(T) []string) *ExportWriter[T] {
	return &ExportWriter[T]{format: format, columns: columns, cells: cells}
}

// ContentType is the media type of the format.
func (x *ExportWriter[T]) ContentType() string {
	switch x.format {
	case "csv":
		return "text/csv; charset=utf-8"
	case "json":
		return "application/json; charset=utf-8"
	}
	return "application/x-ndjson"
}

func (x *ExportWriter[T]) begin(w io.Writer) error {
	switch x.format {
	case "csv":
		x.csv = csv.NewWriter(w)
		return x.csv.Write(x.columns)
	case "json":
		_, err := io.WriteString(w, "[")
		return err
	}
	return nil
}

func (x *ExportWriter[T]) row(w io.Writer, v T) error {
	x.rows++
	if x.format == "csv" {
		return x.csv.Write(x.cells(v))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if x.format == "json" {
		if x.rows > 1 {
			b = append([]byte(",\n"), b...)
		}
	} else {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}

// flush pushes what the csv writer buffers down to w.
func (x *ExportWriter[T]) flush() error {
	if x.csv != nil {
		x.csv.Flush()
		return x.csv.Error()
	}
	return nil
}

func (x *ExportWriter[T]) end(w io.Writer) error {
	if x.format == "json" {
		if _, err := io.WriteString(w, "]\n"); err != nil {
			return err
		}
	}
	return x.flush()
}

// ExportFilename names an export file: sessions-20260102T150405Z.csv.
func ExportFilename(name, format string, now time.Time) string {
	return fmt.Sprintf("%s-%s.%s", name, now.UTC().Format("20060102T150405Z"), format)
}

// Attachment sets the headers of a downloaded file.
func Attachment(w http.ResponseWriter, contentType, filename string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// StreamExport writes every row next yields, page by page, flushing after
// each page so memory stays flat at any size. An error before the first
// byte is a normal JSON error; after it the connection is aborted (the
// client sees a truncated download, never a silently short file) and the
// error is logged. It returns the row count and whether it completed.
//
// fail answers an error before the first byte (nil: WriteError); log
// records an error after it. The handler must run under a recoverer that
// lets http.ErrAbortHandler through.
func StreamExport[T any](w http.ResponseWriter, r *http.Request, log *slog.Logger, fail func(http.ResponseWriter, *http.Request, error), filename string, out *ExportWriter[T], next func(context.Context) ([]T, bool, error)) (int, bool) {
	if fail == nil {
		fail = func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, err) }
	}
	ctx := r.Context()
	rows, more, err := next(ctx)
	if err != nil {
		fail(w, r, err)
		return 0, false
	}
	Attachment(w, out.ContentType(), filename)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	rc := http.NewResponseController(w)
	abort := func(err error) {
		log.Error("export stopped after the response began", "path", r.URL.Path, "rows", out.rows, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err := out.begin(bw); err != nil {
		abort(err)
	}
	for {
		for _, v := range rows {
			if err := out.row(bw, v); err != nil {
				abort(err)
			}
		}
		if err := out.flush(); err != nil {
			abort(err)
		}
		if err := bw.Flush(); err != nil {
			abort(err)
		}
		_ = rc.Flush()
		if !more {
			break
		}
		if rows, more, err = next(ctx); err != nil {
			abort(err)
		}
	}
	if err := out.end(bw); err != nil {
		abort(err)
	}
	if err := bw.Flush(); err != nil {
		abort(err)
	}
	return out.rows, true
}

// ExportPage is how many rows an export reads from the store at a time, so
// the memory of an export does not grow with the number of rows.
const ExportPage = 500

// ParseExportQuery reads ?format= (csv, json or ndjson; ndjson by default)
// and returns the other parameters without limit and cursor: an export is
// always complete.
func ParseExportQuery(q url.Values) (string, url.Values, error) {
	format := strings.ToLower(q.Get("format"))
	switch format {
	case "":
		format = "ndjson"
	case "ndjson", "csv", "json":
	default:
		return "", nil, InvalidFields(map[string]string{"format": "must be csv, json or ndjson"})
	}
	q.Del("limit")
	q.Del("cursor")
	return format, q, nil
}

// Exports streams the admin exports (sessions, audit log) of the query
// string's filters and audits each finished one: the admin API and the
// dashboard both serve them through it.
type Exports struct {
	Sessions SessionAdmin
	Audit    AuditLog
	Now      func() time.Time
	Log      *slog.Logger
	// Fail answers an error before the download starts (nil: WriteError).
	Fail func(http.ResponseWriter, *http.Request, error)
}

// ServeSessions streams the sessions the query selects (ParseSessionQuery).
func (x Exports) ServeSessions(w http.ResponseWriter, r *http.Request) {
	format, q, err := ParseExportQuery(r.URL.Query())
	if err != nil {
		x.fail(w, r, err)
		return
	}
	f, err := ParseSessionQuery(q)
	if err != nil {
		x.fail(w, r, err)
		return
	}
	f.Limit = ExportPage
	next := func(ctx context.Context) ([]*Session, bool, error) {
		p, err := x.Sessions.ListSessions(ctx, f)
		if err != nil {
			return nil, false, err
		}
		f.Cursor = p.NextCursor
		return p.Sessions, p.NextCursor != "", nil
	}
	out := NewExportWriter(format, sessionColumns, sessionCells)
	if n, ok := StreamExport(w, r, x.Log, x.Fail, ExportFilename("sessions", format, x.Now()), out, next); ok {
		x.Audit.RecordExport(r.Context(), Export{What: ExportSessions, Format: format, Rows: n})
	}
}

// ServeAudit streams the audit events the query selects (ParseEventQuery).
func (x Exports) ServeAudit(w http.ResponseWriter, r *http.Request) {
	format, q, err := ParseExportQuery(r.URL.Query())
	if err != nil {
		x.fail(w, r, err)
		return
	}
	f, err := ParseEventQuery(q)
	if err != nil {
		x.fail(w, r, err)
		return
	}
	f.Limit = ExportPage
	next := func(ctx context.Context) ([]*Event, bool, error) {
		events, cursor, err := x.Audit.ListEvents(ctx, f)
		if err != nil {
			return nil, false, err
		}
		f.Cursor = cursor
		return events, cursor != "", nil
	}
	out := NewExportWriter(format, eventColumns, eventCells)
	if n, ok := StreamExport(w, r, x.Log, x.Fail, ExportFilename("audit", format, x.Now()), out, next); ok {
		x.Audit.RecordExport(r.Context(), Export{What: ExportAudit, Format: format, Rows: n})
	}
}

func (x Exports) fail(w http.ResponseWriter, r *http.Request, err error) {
	if x.Fail != nil {
		x.Fail(w, r, err)
		return
	}
	WriteError(w, err)
}
