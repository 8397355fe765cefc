package alert

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// hostileConditions are conditions an attacker with rule access (or a
// careless admin) could save; each once stalled logins or ate memory.
var hostileConditions = map[string]string{
	"repeat 2**29":       `"x".repeat(2**29).length > 0`,
	"backtracking regex": `/^(a+)+\1$/.test("aaaaaaaaaaaaaaaaaaaaaaaaab")`,
	"infinite loop":      `while (true) {}`,
	"allocation loop":    `var a = []; while (true) { a.push(new Array(100000).fill("x")) }`,
}

// nativeCall is one native call the interpreter cannot interrupt (about
// 400 ms here): only a kill ends it.
const nativeCall = `"a".repeat(2e7).toUpperCase().length > 0`

// selfRSS is this process's resident memory in bytes.
func selfRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestProcessEvaluatorStopsHostileConditions runs each hostile condition in
// the real evaluator process: each is stopped at a limit (an OverrunError),
// this process's memory does not grow with it, and the pool answers honest
// conditions afterwards.
func TestProcessEvaluatorStopsHostileConditions(t *testing.T) {
	ev := processEvaluator(t, ConditionLimits{Timeout: 100 * time.Millisecond, Memory: DefaultConditionMemory})
	in := loginInput()
	event, _ := json.Marshal(conditionEvent(&in))
	ctx := context.Background()
	before := selfRSS(t)
	for name, src := range hostileConditions {
		fired, err := ev.Evaluate(ctx, src, event)
		var overrun *OverrunError
		if fired || !errors.As(err, &overrun) {
			t.Errorf("%s: fired %v, err %v; want an overrun", name, fired, err)
			continue
		}
		t.Logf("%s: %v", name, err)
		if name == "repeat 2**29" && overrun.Limit != "memory" {
			t.Errorf("repeat 2**29: %v; want the memory cap to end it", err)
		}
	}
	// A deadline well below the sort's time: the parent kills the process.
	quick := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1"},
		Limits: ConditionLimits{Timeout: 10 * time.Millisecond}, Grace: 20 * time.Millisecond})
	defer quick.Close()
	var overrun *OverrunError
	if _, err := quick.Evaluate(ctx, nativeCall, event); !errors.As(err, &overrun) || !strings.Contains(overrun.Detail, "killed") {
		t.Errorf("native call: %v; want the process killed at the deadline", err)
	}
	if grown := selfRSS(t) - before; grown > 64<<20 {
		t.Errorf("the server's own memory grew by %d MB running hostile conditions", grown>>20)
	}
	for src, want := range map[string]bool{`event.score < 60`: true, `event.user.email.endsWith("@nowhere.test")`: false} {
		if fired, err := ev.Evaluate(ctx, src, event); fired != want || err != nil {
			t.Errorf("%q after the hostile ones = %v, %v; want %v", src, fired, err, want)
		}
	}
	var failed *ConditionError
	if _, err := ev.Evaluate(ctx, `event.nothing.here`, event); !errors.As(err, &failed) {
		t.Errorf("a throwing condition = %v; want a ConditionError", err)
	}
	// Every evaluator the pool started for them has been reaped or is idle.
	if n := len(ev.Processes()); n > 2 {
		t.Errorf("%d evaluator processes running; the pool has 2", n)
	}
}

// hookReceiver is a plain webhook receiver that records alert payloads.
type hookReceiver struct {
	mu     sync.Mutex
	alerts []Alert
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		rc.mu.Lock()
		rc.alerts = append(rc.alerts, a)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) byRule() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := map[string]int{}
	for _, a := range rc.alerts {
		if a.Rule != nil {
			m[a.Rule.ID]++
		}
	}
	return m
}

// TestWorkerEvaluatesConditionsAndDisablesOverrunningRules: logins write
// pending deliveries; the worker sends those whose condition holds (to a
// real receiver), drops the others with the reason, and disables a rule
// whose condition overran its limits three times in a row, saying why.
func TestWorkerEvaluatesConditionsAndDisablesOverrunningRules(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	sealer := newSealer(t)
	rules := newRules(t, st, sealer)
	rc := newHookReceiver(t)
	hook := func() []sm.AlertChannel {
		return []sm.AlertChannel{{Type: ChannelWebhook, URL: rc.srv.URL + "/hook", Secret: "0123456789abcdef"}}
	}
	hostile := mustCreate(t, rules, sm.AlertRule{Name: "hostile", Enabled: true, Condition: hostileConditions["repeat 2**29"], Channels: hook()})
	honest := mustCreate(t, rules, sm.AlertRule{Name: "honest", Enabled: true, Triggers: []string{"vpn"}, Condition: `event.user.email.endsWith("@example.com")`, Channels: hook()})
	no := mustCreate(t, rules, sm.AlertRule{Name: "says no", Enabled: true, Condition: `event.score > 90`, Channels: hook()})
	var disabledCalls int
	var mu sync.Mutex
	w := NewWorker(WorkerConfig{
		Store: st, Dispatcher: NewDispatcher(map[string]Sender{ChannelWebhook: NewWebhookSender(HTTPConfig{Targets: testPolicy}, sealer, nil)}),
		Sealer: sealer, Targets: testPolicy,
		Conditions: &ConditionConfig{Rules: rules, Evaluator: processEvaluator(t, ConditionLimits{Timeout: time.Second, Memory: 128 << 20}),
			OnRuleDisabled: func(context.Context, string) { mu.Lock(); disabledCalls++; mu.Unlock() }},
	})
	e := NewEngine(EngineConfig{Rules: rules})
	loginN := func() int {
		in := loginInput()
		in.Event = &sm.Event{Type: sm.EventLoginSucceeded, At: time.Now().UTC(), ActorType: sm.ActorUser, UserID: "u1", SessionID: "s1", IP: "203.0.113.9"}
		ds, err := e.Deliveries(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AppendEvent(ctx, in.Event, ds); err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	drain := func() {
		for {
			n, err := w.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	for range 3 {
		if n := loginN(); n != 3 {
			t.Fatalf("a login wrote %d deliveries; want one pending per rule", n)
		}
	}
	drain()
	if got := rc.byRule(); got[honest.ID] != 3 || got[hostile.ID] != 0 || got[no.ID] != 0 {
		t.Fatalf("alerts received by rule = %v; want the honest rule's 3 only", got)
	}
	dropped, _, err := st.ListDeliveries(ctx, sm.DeliveryFilter{Status: sm.DeliveryDropped, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string][]string{}
	for _, d := range dropped {
		reasons[d.RuleID] = append(reasons[d.RuleID], d.LastError)
	}
	if len(reasons[no.ID]) != 3 || reasons[no.ID][0] != "condition returned false" {
		t.Errorf("the false condition's deliveries: %q", reasons[no.ID])
	}
	if len(reasons[hostile.ID]) != 3 || !strings.Contains(reasons[hostile.ID][0], "exceeded its") {
		t.Errorf("the hostile condition's deliveries: %q", reasons[hostile.ID])
	}
	got, err := rules.Get(ctx, hostile.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || !strings.Contains(got.DisabledReason, "3 times in a row") || got.DisabledAt.IsZero() {
		t.Fatalf("after 3 overruns the rule is %+v; want it disabled with the reason", got)
	}
	listed, _ := rules.List(ctx)
	b, _ := json.Marshal(listed)
	if !strings.Contains(string(b), `"disabledReason":"disabled automatically`) {
		t.Fatalf("the listing does not show why: %s", b)
	}
	if disabledCalls != 1 {
		t.Fatalf("OnRuleDisabled called %d times", disabledCalls)
	}
	if ok, _ := rules.find(honest.ID); !ok.Enabled {
		t.Fatal("the honest rule was disabled too")
	}
	// Disabled, it no longer costs a login anything.
	if n := loginN(); n != 2 {
		t.Fatalf("a login wrote %d deliveries with the hostile rule disabled; want 2", n)
	}
	drain()
	// An admin who fixes the condition and enables the rule clears the reason.
	got.Condition, got.Enabled = `event.score < 60`, true
	fixed, err := rules.Update(ctx, got.ID, got)
	if err != nil || !fixed.Enabled || fixed.DisabledReason != "" {
		t.Fatalf("re-enabled rule = %+v, %v", fixed, err)
	}
	loginN()
	drain()
	if n := rc.byRule()[hostile.ID]; n != 1 {
		t.Fatalf("the fixed rule sent %d alerts; want 1", n)
	}
}

// burn is an honest condition that computes for a while (tens of ms).
const burn = `var s = 0; for (var i = 0; i < 1e6; i++) { s += i % 7 } return s > 0`

// TestProcessEvaluatorCPUCap: a condition that computes past the process's
// CPU cap is reported as a "cpu" overrun (the evaluator hears SIGXCPU), not
// as a memory death at the hard cap; and honest conditions whose CPU adds
// up past the cap never meet it, because the pool recycles a process at
// half its cap between evaluations.
func TestProcessEvaluatorCPUCap(t *testing.T) {
	in := loginInput()
	event, _ := json.Marshal(conditionEvent(&in))
	ctx := context.Background()

	ev := processEvaluator(t, ConditionLimits{Timeout: 30 * time.Second, CPU: time.Second})
	var overrun *OverrunError
	if _, err := ev.Evaluate(ctx, `while (true) {}`, event); !errors.As(err, &overrun) || overrun.Limit != "cpu" {
		t.Fatalf("endless loop under a 1s CPU cap: %v; want a cpu overrun", err)
	}

	honest := processEvaluator(t, ConditionLimits{Timeout: 5 * time.Second, CPU: time.Second})
	// The CPU the evaluators used, summed over the processes (a recycled
	// one keeps its last reading).
	used := map[int]time.Duration{}
	total := func() (sum time.Duration) {
		for _, pid := range honest.Processes() {
			if cpu, ok := processCPU(pid); ok {
				used[pid] = cpu
			}
		}
		for _, cpu := range used {
			sum += cpu
		}
		return sum
	}
	if _, ok := processCPU(os.Getpid()); !ok {
		t.Skip("no /proc/<pid>/stat to measure the evaluators' CPU")
	}
	for i := 0; total() < 3*time.Second; i++ {
		fired, err := honest.Evaluate(ctx, burn, event)
		if err != nil || !fired {
			t.Fatalf("honest evaluation %d (after %s of CPU): %v, %v", i, total(), fired, err)
		}
		if i > 2000 {
			t.Fatal("the condition is too quick to reach the cap")
		}
	}
	pids := used
	if len(pids) < 3 {
		t.Errorf("%d evaluator processes for 3s of CPU under a 1s cap; want recycling", len(pids))
	}
	if _, err := ev.Evaluate(ctx, `event.score < 60`, event); err != nil {
		t.Errorf("after a cpu overrun the pool does not answer: %v", err)
	}
}

// TestProcessEvaluatorSlowStart: a process that takes longer to start than
// a condition's time limit (a loaded machine) does not make an honest
// condition overrun; the limit is charged from the process's ready line.
func TestProcessEvaluatorSlowStart(t *testing.T) {
	ev := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1", childEnv + "_START_DELAY=600ms"},
		Limits: ConditionLimits{Timeout: 100 * time.Millisecond}})
	t.Cleanup(func() { ev.Close() })
	in := loginInput()
	event, _ := json.Marshal(conditionEvent(&in))
	fired, err := ev.Evaluate(context.Background(), `event.type === "login.succeeded"`, event)
	if err != nil || !fired {
		t.Fatalf("honest condition in a slow-starting process: fired=%v err=%v", fired, err)
	}
	// A process that never gets ready is a failure to evaluate (retried
	// later), never an overrun that would drop the alert.
	never := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1", childEnv + "_START_DELAY=10s"},
		Limits: ConditionLimits{Timeout: 100 * time.Millisecond}, StartTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { never.Close() })
	_, err = never.Evaluate(context.Background(), `true`, event)
	var over *OverrunError
	if err == nil || errors.As(err, &over) {
		t.Fatalf("process never ready: err=%v, want a retryable (non-overrun) error", err)
	}
}

// TestProcessEvaluatorInheritedDeath: a process that dies on an evaluation
// after having run others (brought to its cap by them) does not cost that
// evaluation: it runs again in a fresh process. A condition that kills a
// fresh process is still its own overrun.
func TestProcessEvaluatorInheritedDeath(t *testing.T) {
	ev := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1", childEnv + "_DIE_ON_REQUEST=2"},
		Workers: 1, Limits: ConditionLimits{Timeout: time.Second}})
	t.Cleanup(func() { ev.Close() })
	in := loginInput()
	event, _ := json.Marshal(conditionEvent(&in))
	ctx := context.Background()
	for i := 1; i <= 3; i++ { // the 2nd evaluation meets a dying process
		fired, err := ev.Evaluate(ctx, `event.type === "login.succeeded"`, event)
		if err != nil || !fired {
			t.Fatalf("evaluation %d: fired=%v err=%v", i, fired, err)
		}
	}
	// Every process dies on its first request: the death is the condition's.
	always := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1", childEnv + "_DIE_ON_REQUEST=1"},
		Workers: 1, Limits: ConditionLimits{Timeout: time.Second}})
	t.Cleanup(func() { always.Close() })
	var over *OverrunError
	if _, err := always.Evaluate(ctx, `true`, event); !errors.As(err, &over) {
		t.Fatalf("a fresh process dying: err=%v, want an overrun", err)
	}
}

// TestProcessEvaluatorFreshAfterOverrun: a condition stopped at its time
// limit may leave its process's heap near the cap, so the next evaluation
// runs in another process.
func TestProcessEvaluatorFreshAfterOverrun(t *testing.T) {
	ev := NewProcessEvaluator(ProcessConfig{Command: os.Args[0], Env: []string{childEnv + "=1"}, Workers: 1,
		Limits: ConditionLimits{Timeout: 100 * time.Millisecond}})
	t.Cleanup(func() { ev.Close() })
	in := loginInput()
	event, _ := json.Marshal(conditionEvent(&in))
	ctx := context.Background()
	if _, err := ev.Evaluate(ctx, `true`, event); err != nil {
		t.Fatal(err)
	}
	before := ev.Processes()
	var over *OverrunError
	if _, err := ev.Evaluate(ctx, `while (true) {}`, event); !errors.As(err, &over) {
		t.Fatalf("infinite loop: %v", err)
	}
	if fired, err := ev.Evaluate(ctx, `true`, event); err != nil || !fired {
		t.Fatalf("after the overrun: fired=%v err=%v", fired, err)
	}
	after := ev.Processes()
	for deadline := time.Now().Add(5 * time.Second); len(after) > 1 && time.Now().Before(deadline); after = ev.Processes() {
		time.Sleep(10 * time.Millisecond) // the killed process is being reaped
	}
	if len(before) != 1 || len(after) != 1 || before[0] == after[0] {
		t.Fatalf("evaluator processes before %v, after %v: want a new one after the overrun", before, after)
	}
}
