package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// exportWriter writes rows of T in one export format: csv (a header row
// and one escaped row per value), json (one streamed array) or ndjson (one
// JSON document per line).
type exportWriter[T any] struct {
	format  string
	columns []string
	cells   func(T) []string
	csv     *csv.Writer
	rows    int
}

func newExportWriter[T any](format string, columns []string, cells func(T) []string) *exportWriter[T] {
	return &exportWriter[T]{format: format, columns: columns, cells: cells}
}

func (x *exportWriter[T]) contentType() string {
	switch x.format {
	case "csv":
		return "text/csv; charset=utf-8"
	case "json":
		return "application/json; charset=utf-8"
	}
	return "application/x-ndjson"
}

func (x *exportWriter[T]) begin(w io.Writer) error {
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

func (x *exportWriter[T]) row(w io.Writer, v T) error {
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
func (x *exportWriter[T]) flush() error {
	if x.csv != nil {
		x.csv.Flush()
		return x.csv.Error()
	}
	return nil
}

func (x *exportWriter[T]) end(w io.Writer) error {
	if x.format == "json" {
		if _, err := io.WriteString(w, "]\n"); err != nil {
			return err
		}
	}
	return x.flush()
}

// exportFilename names an export file: sessions-20260102T150405Z.csv.
func exportFilename(name, format string, now time.Time) string {
	return fmt.Sprintf("%s-%s.%s", name, now.UTC().Format("20060102T150405Z"), format)
}

// attachment sets the headers of a downloaded file.
func attachment(w http.ResponseWriter, contentType, filename string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// streamExport writes every row next yields, page by page, flushing after
// each page so memory stays flat at any size. An error before the first
// byte is a normal JSON error; after it the connection is aborted (the
// client sees a truncated download, never a silently short file) and the
// error is logged. It returns the row count and whether it completed.
func streamExport[T any](s *server, w http.ResponseWriter, r *http.Request, filename string, out *exportWriter[T], next func(context.Context) ([]T, bool, error)) (int, bool) {
	ctx := r.Context()
	rows, more, err := next(ctx)
	if err != nil {
		s.fail(w, r, err)
		return 0, false
	}
	attachment(w, out.contentType(), filename)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	rc := http.NewResponseController(w)
	abort := func(err error) {
		s.log.Error("export stopped after the response began", "path", r.URL.Path, "rows", out.rows, "err", err)
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
