package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConditionEvaluator runs a rule's custom condition on one event, off the
// login path. Fired is the condition's answer; err is an *OverrunError when
// the evaluation hit its time or memory limit, a *ConditionError when the
// script threw or does not compile, anything else when no evaluator could
// run it (retry later).
type ConditionEvaluator interface {
	Evaluate(ctx context.Context, source string, event json.RawMessage) (fired bool, err error)
}

// OverrunError is an evaluation stopped at a limit.
type OverrunError struct {
	// Limit is "time" or "memory" (or "cpu" for the process's CPU cap).
	Limit  string
	Detail string
}

func (e *OverrunError) Error() string {
	return "condition exceeded its " + e.Limit + " limit: " + e.Detail
}

// ConditionError is a condition that threw or does not compile.
type ConditionError struct{ Message string }

func (e *ConditionError) Error() string { return "condition failed: " + e.Message }

// ProcessConfig configures a ProcessEvaluator.
type ProcessConfig struct {
	// Command and Args start one evaluator process, a program whose main
	// calls ServeConditions on stdin and stdout (sessionmanager runs itself
	// as `sessionmanager condition-eval`). The limits are appended as flags
	// (see ConditionLimitFlags).
	Command string
	Args    []string
	// Env is the whole environment of an evaluator: nothing of the
	// server's (keys, database URLs) is passed unless listed here.
	Env []string
	// Workers is how many evaluator processes run at once (default 2).
	Workers int
	Limits  ConditionLimits
	// Grace is how long past Limits.Timeout the parent waits for an answer
	// before it kills the process (default 250ms): work the interpreter
	// cannot interrupt (a native string or regex operation) ends there.
	Grace time.Duration
	// StartTimeout is how long a new process may take to say it is ready
	// (default 30s). Start-up is never charged to a condition's time limit:
	// on a loaded machine it can take longer than Limits.Timeout, and an
	// honest rule must not be dropped for it. A process that is not ready
	// in time is a failure to evaluate (retried later), not an overrun.
	StartTimeout time.Duration
	// MaxEvaluations recycles a process after this many (default 10000).
	// A process is also recycled, between evaluations, once it has used
	// half its CPU cap (Limits.CPU), so that an honest rule never meets the
	// cap another evaluation brought close: read from /proc where there is
	// one, else bounded by count, at Limits.CPU / (Timeout + Grace) / 2
	// evaluations (each can use at most Timeout + Grace).
	MaxEvaluations int
	Logger         *slog.Logger
}

// An evaluator process that reaches its soft CPU cap (SIGXCPU) writes
// cpuCapMessage to stderr and exits with cpuCapExitCode, so that the
// parent tells it from a memory or crash death.
const (
	cpuCapExitCode = 86
	cpuCapMessage  = "condition evaluator: CPU cap reached (SIGXCPU)"
)

// ConditionLimitFlags are the flags ProcessEvaluator appends to Args and
// ParseConditionLimitFlags reads back in the evaluator process.
func ConditionLimitFlags(l ConditionLimits) []string {
	l = l.withDefaults()
	return []string{"-timeout", l.Timeout.String(), "-memory", strconv.FormatInt(l.Memory, 10), "-cpu", l.CPU.String()}
}

// ParseConditionLimitFlags reads the flags ConditionLimitFlags writes.
func ParseConditionLimitFlags(args []string) (ConditionLimits, error) {
	var l ConditionLimits
	for i := 0; i+1 < len(args); i += 2 {
		var err error
		switch args[i] {
		case "-timeout":
			l.Timeout, err = time.ParseDuration(args[i+1])
		case "-memory":
			l.Memory, err = strconv.ParseInt(args[i+1], 10, 64)
		case "-cpu":
			l.CPU, err = time.ParseDuration(args[i+1])
		default:
			err = fmt.Errorf("unknown flag %s", args[i])
		}
		if err != nil {
			return l, err
		}
	}
	if len(args)%2 != 0 {
		return l, errors.New("flag without value")
	}
	return l.withDefaults(), nil
}

// ProcessEvaluator evaluates conditions in a small pool of long-lived
// child processes speaking JSON lines. A child that does not answer by the
// deadline is killed (and replaced on next use); one that dies (its memory
// cap) fails only the evaluation it was running. The server's memory and
// time are never at stake.
type ProcessEvaluator struct {
	cfg  ProcessConfig
	idle chan *evalProcess // one slot per worker; nil: start one when used
	mu   sync.Mutex
	all  map[*evalProcess]struct{}
	stop bool
	wg   sync.WaitGroup // the processes' reader and waiter goroutines
}

// NewProcessEvaluator returns a pool; processes start on first use.
func NewProcessEvaluator(cfg ProcessConfig) *ProcessEvaluator {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 250 * time.Millisecond
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.MaxEvaluations <= 0 {
		cfg.MaxEvaluations = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Limits = cfg.Limits.withDefaults()
	p := &ProcessEvaluator{cfg: cfg, idle: make(chan *evalProcess, cfg.Workers), all: map[*evalProcess]struct{}{}}
	for range cfg.Workers {
		p.idle <- nil
	}
	return p
}

// evalProcess is one running evaluator.
type evalProcess struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan conditionReply // closed when stdout ends
	exited  chan struct{}       // closed when the process has been reaped
	stderr  *headBuffer
	nextID  uint64
	evals   int
}

// Evaluate runs source on event in an evaluator process. A process that
// dies during an evaluation after having run others may have been brought
// to its limit by them, not by this condition: the condition is then run
// once more in a fresh process, and only a death there is its own.
func (p *ProcessEvaluator) Evaluate(ctx context.Context, source string, event json.RawMessage) (bool, error) {
	fired, inherited, err := p.evaluate(ctx, source, event, false)
	if inherited {
		fired, _, err = p.evaluate(ctx, source, event, true)
	}
	return fired, err
}

// evaluate runs one evaluation, in a fresh process when fresh is set.
// inherited reports a process death on an evaluation that was not the
// process's first.
func (p *ProcessEvaluator) evaluate(ctx context.Context, source string, event json.RawMessage, fresh bool) (_, inherited bool, _ error) {
	var proc *evalProcess
	select {
	case proc = <-p.idle:
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	// The slot goes back with a live process, or nil to start a fresh one.
	defer func() { p.idle <- proc }()
	if proc != nil && fresh {
		p.retire(proc)
		proc = nil
	}
	if proc == nil {
		var err error
		if proc, err = p.start(); err != nil {
			return false, false, err
		}
		if err := p.awaitReady(ctx, proc); err != nil {
			p.retire(proc)
			proc = nil
			return false, false, err
		}
	}
	proc.nextID++
	proc.evals++
	req, err := json.Marshal(conditionRequest{ID: proc.nextID, Source: source, Event: event})
	if err != nil {
		return false, false, err
	}
	if _, err := proc.stdin.Write(append(req, '\n')); err != nil {
		p.retire(proc)
		proc = nil
		return false, false, fmt.Errorf("condition evaluator: write: %w", err)
	}
	deadline := time.NewTimer(p.cfg.Limits.Timeout + p.cfg.Grace)
	defer deadline.Stop()
	select {
	case reply, ok := <-proc.replies:
		if !ok || reply.ID != proc.nextID {
			first := proc.evals == 1
			err := p.died(proc)
			proc = nil
			return false, !first, err
		}
		// A condition stopped at its time limit may have grown the heap
		// close to the memory cap (an allocation loop on a slow machine):
		// the next condition gets a fresh process.
		if reply.Overrun || p.recycleDue(proc) {
			p.retire(proc) // between evaluations
			proc = nil
		}
		switch {
		case reply.Overrun:
			return false, false, &OverrunError{Limit: "time", Detail: fmt.Sprintf("still running after %s", p.cfg.Limits.Timeout)}
		case reply.Error != "":
			return false, false, &ConditionError{Message: reply.Error}
		}
		return reply.Fired, false, nil
	case <-deadline.C:
		p.retire(proc)
		<-proc.exited
		rss := maxRSS(proc.cmd)
		proc = nil
		return false, false, &OverrunError{Limit: "time", Detail: fmt.Sprintf("no answer within %s; evaluator process killed (peak memory %d MB)",
			p.cfg.Limits.Timeout+p.cfg.Grace, rss>>20)}
	case <-ctx.Done():
		// The caller gave up (shutdown): the process may be mid-evaluation.
		p.retire(proc)
		proc = nil
		return false, false, ctx.Err()
	}
}

// awaitReady waits for a new process's ready line.
func (p *ProcessEvaluator) awaitReady(ctx context.Context, proc *evalProcess) error {
	wait := time.NewTimer(p.cfg.StartTimeout)
	defer wait.Stop()
	select {
	case reply, ok := <-proc.replies:
		if ok && reply.Ready {
			return nil
		}
		_ = proc.cmd.Process.Kill()
		<-proc.exited
		return fmt.Errorf("condition evaluator: the process ended before it was ready: %s", truncate(proc.stderr.String(), 300))
	case <-wait.C:
		return fmt.Errorf("condition evaluator: the process was not ready within %s", p.cfg.StartTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// died explains a process that ended without answering: its memory cap
// or CPU cap ended it, or it crashed.
func (p *ProcessEvaluator) died(proc *evalProcess) error {
	p.retire(proc)
	<-proc.exited
	head := proc.stderr.String()
	state := proc.cmd.ProcessState
	switch {
	case strings.Contains(head, "out of memory") || strings.Contains(head, "cannot allocate memory"):
		return &OverrunError{Limit: "memory", Detail: fmt.Sprintf("allocated more than %d MB; evaluator process ended", p.cfg.Limits.Memory>>20)}
	case strings.Contains(head, cpuCapMessage) || state != nil && cpuCapped(state, p.cfg.Limits.CPU):
		return &OverrunError{Limit: "cpu", Detail: fmt.Sprintf("evaluator process reached its CPU cap of %s", p.cfg.Limits.CPU)}
	}
	p.cfg.Logger.Error("condition evaluator process ended unexpectedly", "state", fmt.Sprint(state), "stderr", truncate(head, 500))
	return &OverrunError{Limit: "memory", Detail: "evaluator process ended: " + truncate(fmt.Sprint(state), 100)}
}

// recycleDue reports whether proc should be replaced before its next
// evaluation: its count is up, or it has used half its CPU cap.
func (p *ProcessEvaluator) recycleDue(proc *evalProcess) bool {
	if proc.evals >= p.cfg.MaxEvaluations {
		return true
	}
	if used, ok := processCPU(proc.cmd.Process.Pid); ok {
		return used >= p.cfg.Limits.CPU/2
	}
	return proc.evals >= max(1, int(p.cfg.Limits.CPU/(p.cfg.Limits.Timeout+p.cfg.Grace)/2))
}

// start runs one evaluator process.
func (p *ProcessEvaluator) start() (*evalProcess, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop {
		return nil, errors.New("condition evaluator is stopped")
	}
	cmd := exec.Command(p.cfg.Command, append(append([]string(nil), p.cfg.Args...), ConditionLimitFlags(p.cfg.Limits)...)...)
	cmd.Env = p.cfg.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.SysProcAttr = childProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	proc := &evalProcess{cmd: cmd, stdin: stdin, replies: make(chan conditionReply), exited: make(chan struct{}), stderr: &headBuffer{max: 4 << 10}}
	cmd.Stderr = proc.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("condition evaluator: start %s: %w", p.cfg.Command, err)
	}
	p.all[proc] = struct{}{}
	p.wg.Add(1)
	go func() { // reader: owns stdout, ends when the process does
		defer p.wg.Done()
		defer close(proc.replies)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r conditionReply
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				return
			}
			proc.replies <- r
		}
	}()
	p.wg.Add(1)
	go func() { // waiter: reaps the process
		defer p.wg.Done()
		_ = cmd.Wait()
		close(proc.exited)
		p.mu.Lock()
		delete(p.all, proc)
		p.mu.Unlock()
	}()
	return proc, nil
}

// retire ends a process: it is killed (a live one may be mid-evaluation).
func (p *ProcessEvaluator) retire(proc *evalProcess) {
	_ = proc.stdin.Close()
	_ = proc.cmd.Process.Kill()
	// Drain a reply sent after the deadline so the reader can end.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for range proc.replies {
		}
	}()
}

// Close kills every evaluator process and waits for them.
func (p *ProcessEvaluator) Close() error {
	p.mu.Lock()
	p.stop = true
	procs := make([]*evalProcess, 0, len(p.all))
	for proc := range p.all {
		procs = append(procs, proc)
	}
	p.mu.Unlock()
	for _, proc := range procs {
		p.retire(proc)
	}
	p.wg.Wait()
	return nil
}

// Processes returns the process ids of the running evaluators (for tests
// and diagnostics).
func (p *ProcessEvaluator) Processes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for proc := range p.all {
		pids = append(pids, proc.cmd.Process.Pid)
	}
	return pids
}

// headBuffer keeps the first max bytes written (a child's stderr: a Go
// fatal error says why first, then dumps its goroutines).
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
