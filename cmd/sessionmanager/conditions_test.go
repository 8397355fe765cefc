package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/redistest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestMain lets the test binary be the server's condition evaluator: the
// server re-executes its own executable (here, this binary) with the
// hidden condition-eval subcommand, which run handles as in production.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == conditionEvalCmd {
		if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	redistest.StopShared() // the Redis Cluster and Sentinel of the Redis mode tests
	os.Exit(code)
}

// hostileConditions once stalled logins (the JavaScript ran in the login)
// or took a gigabyte per login.
var hostileConditions = map[string]string{
	"repeat":          `"x".repeat(2**29).length > 0`,
	"backtracking":    `/^(a+)+\1$/.test("aaaaaaaaaaaaaaaaaaaaaaaaab")`,
	"infinite loop":   `while (true) {}`,
	"allocation loop": `var a = []; while (true) { a.push(new Array(100000).fill("x")) }`,
}

// processRSS is the server process's resident memory (the server runs in
// this test process).
func processRSS(t *testing.T) int64 {
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
	return 0
}

// evaluatorChildren counts the server's condition-eval child processes.
func evaluatorChildren() int {
	n := 0
	dirs, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, d := range dirs {
		status, err := os.ReadFile("/proc/" + d.Name() + "/status")
		if err != nil || !strings.Contains(string(status), "\nPPid:\t"+me+"\n") {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if strings.Contains(string(cmdline), conditionEvalCmd) {
			n++
		}
	}
	return n
}

// TestHostileConditionsNeverStallLogins runs the hostile conditions against
// the real server: every login answers while the conditions are still being
// evaluated (in a separate process), the server's memory does not grow with
// them, each hostile rule is disabled with its reason after three overruns,
// and an honest condition still alerts a real webhook receiver.
func TestHostileConditionsNeverStallLogins(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testHostileConditions(t, map[string]string{}) })
	t.Run("postgres", func(t *testing.T) { testHostileConditions(t, postgresEnv(t)) })
}

func testHostileConditions(t *testing.T, env map[string]string) {
	rc := &receiver{secret: []byte("whsec-condition-test")}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	env["LICENSE_KEY"] = testLicense(t, license.EditionAdvanced)
	// A limit long enough that an evaluation is surely still running when
	// the login that queued it has answered.
	env["SM_CONDITION_TIMEOUT"] = "2s"
	s := startServer(t, env)
	write := s.adminToken("write")
	channels := []map[string]any{{"type": "webhook", "url": hook.URL + "/hook", "secret": string(rc.secret)}}
	createRule := func(name, condition string) string {
		t.Helper()
		// No "enabled": a rule created through the API is enabled.
		code, _, body := s.call("POST", "/api/admin/alerts/rules", write, map[string]any{"name": name, "condition": condition, "channels": channels})
		data, _ := body["data"].(map[string]any)
		if code != 201 || data["enabled"] != true {
			t.Fatalf("create rule %s: %d %v", name, code, body)
		}
		return str(data, "id")
	}
	honest := createRule("honest", `event.user.username === "otto" && event.type === "login.succeeded"`)
	if code, _, body := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "otto", "email": "otto@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, body)
	}
	login := func() {
		t.Helper()
		if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "otto", "password": "correct horse battery"}); code != 200 {
			t.Fatalf("login: %d %v", code, out)
		}
	}
	ruleOf := map[string]string{}
	for name, src := range hostileConditions {
		ruleOf[createRule(name, src)] = name
	}
	pending := func() map[string]int {
		_, _, body := s.call("GET", "/api/admin/alerts/deliveries?status=pending&limit=100", write, nil)
		m := map[string]int{}
		data, _ := body["data"].([]any)
		for _, d := range data {
			m[str(d.(map[string]any), "ruleId")]++
		}
		return m
	}
	before := processRSS(t)
	for round := 1; round <= 3; round++ {
		login()
		// The login has answered; its conditions are still being evaluated,
		// in evaluator processes (the loop alone runs for 2s).
		p := pending()
		stillRunning := 0
		for id := range ruleOf {
			stillRunning += p[id]
		}
		if stillRunning == 0 {
			t.Fatalf("round %d: the login answered after its conditions were evaluated (pending: %v)", round, p)
		}
		// While they are pending, a condition-eval child of the server runs
		// them (the worker may take a moment to claim them).
		sawEvaluator := false
		deadline := time.Now().Add(60 * time.Second)
		for len(pending()) > 0 {
			sawEvaluator = sawEvaluator || evaluatorChildren() > 0
			if time.Now().After(deadline) {
				t.Fatalf("round %d: deliveries still pending: %v", round, pending())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !sawEvaluator {
			t.Fatalf("round %d: no condition-eval process ran the conditions", round)
		}
	}
	if grown := processRSS(t) - before; grown > 150<<20 {
		t.Errorf("the server's memory grew by %d MB over the hostile logins", grown>>20)
	}
	t.Logf("server RSS before %d MB, after %d MB", before>>20, processRSS(t)>>20)

	// Each hostile rule is disabled with a reason the admin sees.
	_, _, body := s.call("GET", "/api/admin/alerts/rules", write, nil)
	rules, _ := body["data"].([]any)
	for _, r := range rules {
		rule := r.(map[string]any)
		name, hostile := ruleOf[str(rule, "id")]
		switch {
		case hostile && (rule["enabled"] != false || !strings.Contains(str(rule, "disabledReason"), "3 times in a row")):
			t.Errorf("hostile rule %s after 3 overruns: %v", name, rule)
		case !hostile && rule["enabled"] != true:
			t.Errorf("honest rule disabled: %v", rule)
		}
	}
	// The dropped deliveries say why.
	_, _, body = s.call("GET", "/api/admin/alerts/deliveries?status=dropped&limit=100", write, nil)
	dropped, _ := body["data"].([]any)
	reasons := map[string]string{}
	for _, d := range dropped {
		dm := d.(map[string]any)
		reasons[ruleOf[str(dm, "ruleId")]] = str(dm, "lastError")
	}
	if !strings.Contains(reasons["repeat"], "memory limit") || !strings.Contains(reasons["infinite loop"], "time limit") ||
		!strings.Contains(reasons["backtracking"], "time limit") {
		t.Errorf("dropped reasons: %v", reasons)
	}
	// The honest condition alerted for each login, and only it.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, a := range rc.alerts {
		if a.Rule == nil || a.Rule.ID != honest {
			t.Errorf("alert from a hostile rule: %+v", a.Rule)
		}
	}
	if len(rc.alerts) != 4 || rc.bad != 0 { // the sign-up signs in too
		_, _, body := s.call("GET", "/api/admin/alerts/deliveries?limit=100", write, nil)
		var mine []any
		all, _ := body["data"].([]any)
		for _, d := range all {
			if str(d.(map[string]any), "ruleId") == honest {
				mine = append(mine, d)
			}
		}
		t.Errorf("receiver got %d alerts (%d bad); want the honest rule's 4; its deliveries: %v", len(rc.alerts), rc.bad, mine)
	}
}
