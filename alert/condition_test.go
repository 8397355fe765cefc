package alert

import (
	"strings"
	"testing"
	"time"
)

func TestCompileCondition(t *testing.T) {
	tests := []struct {
		name, src string
		wantErr   string // substring of the message; "" compiles
	}{
		{"expression", `event.score < 60`, ""},
		{"expression with semicolon", `event.threat.vpn && event.location.countryCode === "DE";`, ""},
		{"function body", "if (event.score > 90) { return false }\nreturn event.reasons.some(r => r.code === 'vpn')", ""},
		{"syntax error line 1", `event.score <<< 3 )`, "line 1 column "},
		{"syntax error on line 3", "var a = 1;\nvar b = 2;\nreturn a +* b", "line 3 column "},
		{"statements without return, error on line 2", "var a = 1;\nvar b = ;", "line 2 column 9"},
		{"unclosed expression", "event.score <", "line 1 column 14"},
		{"unclosed body", "if (event.score > 1) {\n  return true", "line 2 column"},
		{"strict mode violation", "with (event) { return true }", "line 1 column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, msg := compileCondition(tt.src)
			if tt.wantErr == "" {
				if prog == nil || msg != "" {
					t.Fatalf("compile %q: %s", tt.src, msg)
				}
				return
			}
			if prog != nil || !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("compile %q = %q, want it to contain %q", tt.src, msg, tt.wantErr)
			}
		})
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, msg := compileCondition("let x = 1;\n  return x ++ ;;; )")
	if !strings.HasPrefix(msg, "line 2 column ") {
		t.Fatalf("message %q does not name line 2", msg)
	}
	_, msg = compileCondition("event.score ) 3")
	if msg != "line 1 column 15: Unexpected number" {
		t.Fatalf("message %q", msg)
	}
}

func evalSrc(t *testing.T, e *evaluator, src string) (bool, error) {
	t.Helper()
	prog, msg := compileCondition(src)
	if prog == nil {
		t.Fatalf("compile %q: %s", src, msg)
	}
	in := loginInput()
	return e.eval(prog, conditionEvent(&in))
}

// slowMachine is a limit generous enough for a starved shared test machine
// (the limit is wall-clock time); loops are tested with the default.
const slowMachine = 2 * time.Second

func TestEvalCondition(t *testing.T) {
	e := newEvaluator(slowMachine)
	tests := []struct {
		src     string
		want    bool
		wantErr bool
	}{
		{`event.score < 60`, true, false},
		{`event.score < 50`, false, false},
		{`event.type === "login.succeeded" && event.user.email.endsWith("@example.com")`, true, false},
		{`event.location.countryCode === "DE" && event.previous.location.countryCode === "FR"`, true, false},
		{`event.threat.vpn && !event.threat.tor`, true, false},
		{`event.session.device.browser === "Firefox" && event.session.ip === "203.0.113.9"`, true, false},
		{`return event.reasons.some(function (r) { return r.code === "new_country" && r.weight >= 30 })`, true, false},
		{"const km = 1000;\nreturn event.location.latitude > 50 && km > 1", true, false},
		{`event.nothing.here`, false, true}, // TypeError: treated as false
		{`throw new Error("boom")`, false, true},
		{`typeof require === "undefined" && typeof setTimeout === "undefined" && typeof setInterval === "undefined" && typeof fetch === "undefined" && typeof console === "undefined"`, true, false},
		{`require("fs")`, false, true},
		{`setTimeout(function(){}, 1)`, false, true},
		{`fetch("https://example.com")`, false, true},
		{`leaked = 1`, false, true}, // strict mode: no implicit globals
	}
	for _, tt := range tests {
		got, err := evalSrc(t, e, tt.src)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("eval %q = %v, %v; want %v, error %v", tt.src, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestConditionInfiniteLoopIsInterrupted(t *testing.T) {
	e := newEvaluator(0)
	for _, src := range []string{`while(true){}`, "for (;;) { var x = 1 }\nreturn true"} {
		got, err := evalSrc(t, e, src)
		if got || err == nil {
			t.Fatalf("%q = %v, %v; want false with an interrupt error", src, got, err)
		}
	}
	// The pool still works after an interrupted runtime was dropped.
	e.timeout = slowMachine
	if got, err := evalSrc(t, e, `event.score === 55`); !got || err != nil {
		t.Fatalf("after interrupt: %v, %v", got, err)
	}
}

func TestConditionsCannotPoisonEachOther(t *testing.T) {
	e := newEvaluator(slowMachine)
	attacks := []string{
		`Array.prototype.some = function () { return true }`,
		`Object.prototype.evil = true`,
		`globalThis.score = 0`,
		`String.prototype.endsWith = function () { return true }`,
	}
	for _, src := range attacks {
		if got, err := evalSrc(t, e, src); got || err == nil {
			t.Errorf("%q = %v, %v; want a TypeError (frozen built-ins)", src, got, err)
		}
	}
	if got, _ := evalSrc(t, e, `event.user.email.endsWith("@nowhere.test") || event.reasons.some(r => r.code === "tor") || ({}).evil === true`); got {
		t.Fatal("a condition saw another condition's changes to the built-ins")
	}
	// Writing to the event does not leak into the next evaluation either.
	_, _ = evalSrc(t, e, `(event.score = 0) === 0`)
	if got, _ := evalSrc(t, e, `event.score === 55`); !got {
		t.Fatal("the event object was shared between evaluations")
	}
}

// TestSyntaxErrorNamesOnlyTheSource: the condition is wrapped before it
// is compiled; an error must sit in the admin's source and never name a
// token of the wrapper (issue 21: `event.score < 50 &&` reported a ")").
func TestSyntaxErrorNamesOnlyTheSource(t *testing.T) {
	tests := []struct{ src, want string }{
		{"event.score < 50 &&", "line 1 column 20: " + endMessage},
		{"event.score < 50 &&\n\n", "line 1 column 20: " + endMessage},
		{"event.country === 'FR' ||\n  event.score <", "line 2 column 16: " + endMessage},
		{"(event.score < 3", "line 1 column 17: " + endMessage},
		{"if (event.score > 1) {\n  return true", "line 2 column 14: " + endMessage},
		{"return event.score <", "line 1 column 21: " + endMessage},
		// A ")" of the source closes the wrapper's parenthesis: the error
		// is at that ")", not after the end.
		{"event.score < 3)", "line 1 column 16: Unexpected token )"},
		{"var a = ;\nreturn a", "line 1 column 9: Unexpected token ;"},
	}
	for _, tt := range tests {
		prog, msg := compileCondition(tt.src)
		if prog != nil || msg != tt.want {
			t.Errorf("compile %q = %q, want %q", tt.src, msg, tt.want)
		}
	}
}
