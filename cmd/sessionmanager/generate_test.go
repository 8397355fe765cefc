package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestGenerateCommand: `generate` fills an empty store, refuses one that
// holds data and refuses bad flags with a clear message.
func TestGenerateCommand(t *testing.T) {
	env := map[string]string{"SM_DATA_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	gen := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := run(context.Background(), append([]string{"generate"}, args...), getenv, strings.NewReader(""), &out, &errs)
		return out.String(), err
	}
	for _, bad := range [][]string{{"-sessions", "0"}, {"-sessions", "x"}, {"-now", "yesterday"}, {"extra"}} {
		if _, err := gen(bad...); err == nil {
			t.Errorf("generate %v: no error", bad)
		} else if _, ok := err.(*configError); !ok {
			t.Errorf("generate %v: %T %v, want a usage error", bad, err, err)
		}
	}
	out, err := gen("-sessions", "300", "-now", "2026-03-01T12:00:00Z")
	if err != nil || !strings.Contains(out, "generated 300 sessions of 31 users (sqlite)") {
		t.Fatalf("generate: %q, %v", out, err)
	}
	if _, err := gen("-sessions", "10"); err == nil || !strings.Contains(err.Error(), "already holds users or sessions") {
		t.Fatalf("generate into a store with data: %v", err)
	}
	s := startServer(t, env)
	code, _, body := s.call("GET", "/api/admin/sessions?q=user7%40example.com&limit=500", s.adminToken("read"), nil)
	if code != 200 || len(body["data"].([]any)) == 0 {
		t.Fatalf("the generated sessions are listed and searchable: %d %v", code, body)
	}
}
