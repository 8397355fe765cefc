package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestCheckLoopback(t *testing.T) {
	for _, c := range []struct {
		target string
		ok     bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.8.9.10:1", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"https://127.0.0.1", true},
		{"http://10.0.0.1:8080", false},
		{"http://192.168.1.1", false},
		{"http://8.8.8.8", false},
		{"http://[::ffff:8.8.8.8]:80", false},
		{"http://example.com", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
		{"", false},
	} {
		err := checkLoopback(c.target)
		if (err == nil) != c.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", c.target, err, c.ok)
		}
	}
}

func TestRunRefusesNonLoopbackAndUnbounded(t *testing.T) {
	for _, args := range [][]string{
		{"-target", "http://203.0.113.1:8080", "-scenario", "verify"},
		{"-scenario", "hello", "-duration", "61s"},
		{"-scenario", "hello", "-connections", "0"},
		{"-scenario", "mixed", "-target", "http://127.0.0.1:1"}, // no admin token
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

func TestCappedPacerStopsAtMax(t *testing.T) {
	p := cappedPacer{Pacer: vegeta.ConstantPacer{Freq: 0}, max: 3}
	for hits := range uint64(3) {
		if _, stop := p.Pace(time.Second, hits); stop {
			t.Fatalf("stopped after %d hits, want 3", hits)
		}
	}
	if _, stop := p.Pace(time.Second, 3); !stop {
		t.Fatal("did not stop at the cap")
	}
}

func TestFindCounter(t *testing.T) {
	text := `# HELP msm_last_seen_notes_written_total Last-seen notes written to the store.
# TYPE msm_last_seen_notes_written_total counter
msm_last_seen_notes_written_total 42
msm_last_seen_notes_written_total_other 7
`
	if got := findCounter(strings.NewReader(text), lastSeenCounter); got != 42 {
		t.Fatalf("findCounter = %v, want 42", got)
	}
	if got := findCounter(strings.NewReader("other 1\n"), lastSeenCounter); got != -1 {
		t.Fatalf("missing counter = %v, want -1", got)
	}
}

// TestHelloScenario runs the baseline end to end: loadgen's own handler,
// driven by vegeta, every request answered 200.
func TestHelloScenario(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-scenario", "hello", "-duration", "300ms", "-connections", "2", "-rate", "200"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "hello    requests") || !strings.Contains(s, "status 200:") || strings.Contains(s, "errors") {
		t.Fatalf("unexpected report:\n%s", s)
	}
}

func TestFleetFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "fleet", "-rate", "10", "-admin-token", "x"},                                                       // no targets
		{"-scenario", "fleet", "-targets", "http://127.0.0.1:1", "-rate", "10"},                                          // no admin token
		{"-scenario", "fleet", "-targets", "http://127.0.0.1:1", "-admin-token", "x"},                                    // no rate
		{"-scenario", "fleet", "-targets", "http://127.0.0.1:1,http://203.0.113.1:1", "-rate", "1", "-admin-token", "x"}, // not loopback
		{"-scenario", "fleet", "-targets", "http://127.0.0.1:1", "-rate", "1", "-admin-token", "x", "-quiet", "1"},       // nobody to send to
		{"-scenario", "fleet", "-targets", "http://127.0.0.1:1", "-rate", "1", "-admin-token", "x", "-pids", "1,2"},      // pids do not match
		{"-scenario", "fleet", "-targets", "http://127.0.0.1:1", "-rate", "1", "-admin-token", "x", "-idle", "2m"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

func TestReadSessionIDs(t *testing.T) {
	path := t.TempDir() + "/ids"
	if err := os.WriteFile(path, []byte("a\n\n b \nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := readSessionIDs(path, 2)
	if err != nil || strings.Join(ids, ",") != "a,b" {
		t.Fatalf("readSessionIDs(2) = %q, %v", ids, err)
	}
	if _, err := readSessionIDs(path, 4); err == nil || !strings.Contains(err.Error(), "holds 3 ids, the run needs 4") {
		t.Fatalf("too few ids: %v", err)
	}
}

// TestCPUTimes reads this process's own CPU time: it exists and does not
// go backwards.
func TestCPUTimes(t *testing.T) {
	a := cpuTimes([]int{os.Getpid(), 1 << 30})
	for i := 0; i < 1e7; i++ {
		_ = i * i
	}
	b := cpuTimes([]int{os.Getpid()})
	if a[0] < 0 || b[0] < a[0] {
		t.Fatalf("cpu times %v then %v", a[0], b[0])
	}
	if a[1] != -1 {
		t.Fatalf("a process that does not exist: %v, want -1", a[1])
	}
}
