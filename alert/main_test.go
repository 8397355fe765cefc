package alert

import (
	"fmt"
	"os"
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
		if err == nil {
			err = ServeConditions(os.Stdin, os.Stdout, limits)
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
