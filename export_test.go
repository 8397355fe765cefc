package sessionmanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type row struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// pages yields n rows in pages of size, then fails with failAt's error
// when failAt > 0 (the page index that fails).
func pages(n, size, failAt int) func(context.Context) ([]row, bool, error) {
	i, page := 0, 0
	return func(context.Context) ([]row, bool, error) {
		page++
		if page == failAt {
			return nil, false, errors.New("store went away")
		}
		var out []row
		for ; i < n && len(out) < size; i++ {
			out = append(out, row{N: i, Text: "=cmd"})
		}
		return out, i < n, nil
	}
}

func exportServer(t *testing.T, format string, next func(context.Context) ([]row, bool, error)) *httptest.Server {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// net/http itself ends the connection on http.ErrAbortHandler.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := NewExportWriter(format, []string{"n", "text"}, func(x row) []string { return []string{CSVCell(string(rune('0' + x.N%10))), CSVCell(x.Text)} })
		StreamExport(w, r, log, nil, "rows."+format, out, next)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStreamExportFormats(t *testing.T) {
	cases := []struct {
		format, contentType string
		check               func(t *testing.T, body string)
	}{
		{"ndjson", "application/x-ndjson", func(t *testing.T, body string) {
			lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
			if len(lines) != 1201 {
				t.Fatalf("%d lines", len(lines))
			}
			for _, l := range lines {
				if !json.Valid([]byte(l)) {
					t.Fatalf("line %q", l)
				}
			}
		}},
		{"json", "application/json; charset=utf-8", func(t *testing.T, body string) {
			var rows []row
			if err := json.Unmarshal([]byte(body), &rows); err != nil || len(rows) != 1201 || rows[1200].N != 1200 {
				t.Fatalf("json array: %v, %d rows", err, len(rows))
			}
		}},
		{"csv", "text/csv; charset=utf-8", func(t *testing.T, body string) {
			lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
			if len(lines) != 1202 || lines[0] != "n,text" || lines[1] != "0,'=cmd" {
				t.Fatalf("csv: %d lines, starting %q", len(lines), lines[:2])
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			resp, err := http.Get(exportServer(t, c.format, pages(1201, 500, 0)).URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.contentType {
				t.Fatalf("%d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="rows.`+c.format+`"` {
				t.Errorf("Content-Disposition %q", cd)
			}
			c.check(t, string(b))
		})
	}
	t.Run("empty json", func(t *testing.T) {
		resp, err := http.Get(exportServer(t, "json", pages(0, 500, 0)).URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(b)) != "[]" {
			t.Errorf("empty export %q", b)
		}
	})
}

// A store failure before the first byte is a JSON error; after it the
// download breaks instead of ending as a well-formed but short file.
func TestStreamExportErrors(t *testing.T) {
	resp, err := http.Get(exportServer(t, "json", pages(10, 500, 1)).URL)
	if err != nil {
		t.Fatal(err)
	}
	var body ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 500 || body.Error.Message != "internal error" {
		t.Errorf("early failure: %d %+v %v", resp.StatusCode, body, err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Disposition") != "" {
		t.Error("an error came as an attachment")
	}

	resp, err = http.Get(exportServer(t, "json", pages(2000, 500, 3)).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a failed export ended cleanly after %d bytes", len(b))
	}
	if resp.StatusCode != 200 || json.Valid(b) {
		t.Errorf("late failure: %d, valid JSON %v", resp.StatusCode, json.Valid(b))
	}
}
