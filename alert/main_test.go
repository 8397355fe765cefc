package alert

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// childEnv makes the test binary act as a condition evaluator process (as
// `sessionmanager condition-eval` does), so tests run the real subprocess.
const childEnv = "SM_ALERT_TEST_CONDITION_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// A slow start, as on a loaded machine (TestProcessEvaluatorSlowStart).
		if d, err := time.ParseDuration(os.Getenv(childEnv + "_START_DELAY")); err == nil {
			time.Sleep(d)
		}
		limits, err := ParseConditionLimitFlags(os.Args[1:])
		var in io.Reader = os.Stdin
		// A process that dies on its Nth request, as one brought to its
		// memory cap by the conditions before would (TestProcessEvaluatorInheritedDeath).
		if n, convErr := strconv.Atoi(os.Getenv(childEnv + "_DIE_ON_REQUEST")); convErr == nil {
			in = &dieOnLine{r: os.Stdin, n: n}
		}
		if err == nil {
			err = ServeConditions(in, os.Stdout, limits)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// processEvaluator runs conditions in child processes of the test binary.
func processEvaluator(t testing.TB, limits ConditionLimits) *ProcessEvaluator {
	t.Helper()
	p := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1"}, Limits: limits})
	t.Cleanup(func() { p.Close() })
	return p
}

// dieOnLine ends the process when its nth line arrives.
type dieOnLine struct {
	r    io.Reader
	n    int
	seen int
}

func (d *dieOnLine) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if d.seen += bytes.Count(p[:n], []byte("\n")); d.seen >= d.n {
		os.Exit(3)
	}
	return n, err
}
