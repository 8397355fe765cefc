package alert

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
)

// ConditionLimits bound one condition evaluator process.
type ConditionLimits struct {
	// Timeout is the time one evaluation may take (default 50ms): the
	// JavaScript is interrupted and a backtracking regular expression gives
	// up at it; native work that ignores both is stopped by the parent,
	// which kills the process at its deadline.
	Timeout time.Duration
	// Memory is how much memory, in bytes, a condition may allocate on top
	// of what the idle process uses (RLIMIT_DATA and RLIMIT_AS; default
	// DefaultConditionMemory): an allocation beyond it ends the process.
	Memory int64
	// CPU caps the process's CPU seconds over its life (RLIMIT_CPU; default
	// DefaultConditionCPU); the parent recycles a process long before an
	// honest one reaches it.
	CPU time.Duration
}

// Defaults of the condition evaluator processes.
const (
	// DefaultConditionMemory is what one evaluation may allocate.
	DefaultConditionMemory = 256 << 20
	DefaultConditionCPU    = 120 * time.Second
)

func (l ConditionLimits) withDefaults() ConditionLimits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultConditionTimeout
	}
	if l.Memory <= 0 {
		l.Memory = DefaultConditionMemory
	}
	if l.CPU <= 0 {
		l.CPU = DefaultConditionCPU
	}
	return l
}

// conditionRequest is one line the parent writes to an evaluator process.
type conditionRequest struct {
	ID     uint64          `json:"id"`
	Source string          `json:"source"`
	Event  json.RawMessage `json:"event"`
}

// conditionReply is the evaluator's answer to one request.
type conditionReply struct {
	ID    uint64 `json:"id"`
	Fired bool   `json:"fired"`
	// Error is the script's exception or compile error.
	Error string `json:"error,omitempty"`
	// Overrun says the evaluation reached its time limit.
	Overrun bool `json:"overrun,omitempty"`
	// Ready is the process's first line, once its limits are applied and
	// its interpreter built: the parent charges a condition's time limit
	// from then on, never the process's start-up (slow on a loaded machine).
	Ready bool `json:"ready,omitempty"`
}

// maxRequestLine bounds one request (source plus event).
const maxRequestLine = 1 << 20

// ServeConditions is the evaluator process's main loop: it applies the
// limits to its own process, then answers one JSON request per line from
// in on out until in ends. It is what `sessionmanager condition-eval`
// runs; nothing else should call it (the limits apply to the whole process).
func ServeConditions(in io.Reader, out io.Writer, limits ConditionLimits) error {
	limits = limits.withDefaults()
	if err := applyProcessLimits(limits); err != nil {
		return fmt.Errorf("condition evaluator: limits: %w", err)
	}
	// goja runs backtracking regular expressions on regexp2, whose patterns
	// take this default; a match that times out is no match, and the
	// evaluation, having used its whole time, is reported as an overrun.
	regexp2.DefaultMatchTimeout = limits.Timeout
	eval := newEvaluator(limits.Timeout)
	programs := map[string]*goja.Program{}
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 64<<10), maxRequestLine)
	enc := json.NewEncoder(out)
	if err := enc.Encode(&conditionReply{Ready: true}); err != nil {
		return err
	}
	for scanner.Scan() {
		var req conditionRequest
		if err := json.Unmarshal(scanner.Bytes(), &req); err != nil {
			return fmt.Errorf("condition evaluator: bad request: %w", err)
		}
		reply := conditionReply{ID: req.ID}
		prog, ok := programs[req.Source]
		if !ok {
			var msg string
			if prog, msg = compileCondition(req.Source); prog == nil {
				reply.Error = "does not compile: " + msg
			} else {
				if len(programs) >= 256 {
					clear(programs)
				}
				programs[req.Source] = prog
			}
		}
		if prog != nil {
			var event map[string]any
			if err := json.Unmarshal(req.Event, &event); err != nil {
				return fmt.Errorf("condition evaluator: bad event: %w", err)
			}
			start := time.Now()
			fired, err := eval.eval(prog, event)
			reply.Fired = fired && err == nil
			reply.Overrun = errors.Is(err, errConditionTimeout) || time.Since(start) >= limits.Timeout
			if err != nil && !reply.Overrun {
				reply.Error = truncate(err.Error(), 300)
			}
			if reply.Overrun {
				reply.Fired = false
			}
		}
		if err := enc.Encode(&reply); err != nil {
			return err
		}
	}
	return scanner.Err()
}
