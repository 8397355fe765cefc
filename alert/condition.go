package alert

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// DefaultConditionTimeout bounds one evaluation of a custom condition.
const DefaultConditionTimeout = 50 * time.Millisecond

// maxConditionLen caps the source of a condition.
const maxConditionLen = 8 << 10

var returnWord = regexp.MustCompile(`\breturn\b`)

// The source is wrapped in a strict function of the event, on the first
// line so that reported lines match the admin's source.
const (
	bodyPrefix = `(function(event){"use strict";`
	bodySuffix = "\n})"
	exprPrefix = `(function(event){"use strict";return (`
	exprSuffix = "\n);})"
)

// compileCondition compiles src once, at save time. A source containing
// `return` is a function body; otherwise it is one expression. The error
// message is "line L column C: message", in the admin's own coordinates.
func compileCondition(src string) (*goja.Program, string) {
	if len(src) > maxConditionLen {
		return nil, fmt.Sprintf("at most %d characters", maxConditionLen)
	}
	prefix, suffix := exprPrefix, exprSuffix
	if returnWord.MatchString(src) {
		prefix, suffix = bodyPrefix, bodySuffix
	} else {
		src = strings.TrimRight(strings.TrimSpace(src), "; \t\r\n")
	}
	wrapped := prefix + src + suffix
	ast, err := parser.ParseFile(nil, "condition", wrapped, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			e := list[0]
			return nil, positionMessage(src, len(prefix), e.Position.Line, e.Position.Column, e.Message)
		}
		return nil, err.Error()
	}
	prog, err := goja.CompileAST(ast, true)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			pos := ce.File.Position(ce.Offset)
			return nil, positionMessage(src, len(prefix), pos.Line, pos.Column, ce.Message)
		}
		return nil, err.Error()
	}
	return prog, ""
}

// positionMessage maps a position in the wrapped source back to src.
func positionMessage(src string, prefixLen, line, col int, msg string) string {
	lines := strings.Split(src, "\n")
	if line == 1 {
		col -= prefixLen
	}
	if line > len(lines) || col < 1 {
		// The error is in the wrapper's closing part: the source ended early.
		line = len(lines)
		col = len(lines[line-1]) + 1
	}
	return fmt.Sprintf("line %d column %d: %s", line, col, msg)
}

// hardenJS freezes the built-ins and the global object of a pooled runtime
// so that one condition cannot change what another one sees.
const hardenJS = `(function(){"use strict";
var g = globalThis, names = Object.getOwnPropertyNames(g);
for (var i = 0; i < names.length; i++) {
  var v = g[names[i]];
  if (v !== null && (typeof v === "object" || typeof v === "function")) {
    Object.freeze(v);
    if (v.prototype) Object.freeze(v.prototype);
  }
}
Object.freeze(Object.getPrototypeOf(function*(){}));
Object.freeze(Object.getPrototypeOf([][Symbol.iterator]()));
Object.freeze(g);
})()`

var hardenProgram = goja.MustCompile("harden", hardenJS, true)

// jsRuntime is one pooled interpreter with the condition functions it has
// already instantiated.
type jsRuntime struct {
	vm  *goja.Runtime
	fns map[*goja.Program]goja.Callable
}

// evaluator runs compiled conditions on pooled, hardened runtimes with a
// time limit. goja has no require, timers, console or I/O of its own, and
// none is added.
type evaluator struct {
	timeout time.Duration
	pool    sync.Pool
}

func newEvaluator(timeout time.Duration) *evaluator {
	if timeout <= 0 {
		timeout = DefaultConditionTimeout
	}
	return &evaluator{timeout: timeout}
}

func newJSRuntime() (*jsRuntime, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(256)
	if _, err := vm.RunProgram(hardenProgram); err != nil {
		return nil, err
	}
	return &jsRuntime{vm: vm, fns: map[*goja.Program]goja.Callable{}}, nil
}

// errConditionTimeout is the interrupt value of a condition over its limit.
var errConditionTimeout = errors.New("condition exceeded its time limit")

// eval runs prog with the event and reports whether it returned a truthy
// value. Any error (exception, time limit, panic) means false.
func (e *evaluator) eval(prog *goja.Program, event map[string]any) (fired bool, err error) {
	rt, _ := e.pool.Get().(*jsRuntime)
	if rt == nil {
		if rt, err = newJSRuntime(); err != nil {
			return false, err
		}
	}
	healthy := false
	defer func() {
		if r := recover(); r != nil {
			fired, err = false, fmt.Errorf("condition panicked: %v", r)
			healthy = false
		}
		if healthy {
			e.pool.Put(rt)
		}
	}()
	fn, ok := rt.fns[prog]
	if !ok {
		v, err := rt.vm.RunProgram(prog)
		if err != nil {
			return false, err
		}
		if fn, ok = goja.AssertFunction(v); !ok {
			return false, errors.New("condition is not a function")
		}
		if len(rt.fns) > 256 { // rules were replaced: forget old programs
			clear(rt.fns)
		}
		rt.fns[prog] = fn
	}
	fired, err, healthy = e.call(rt, fn, event)
	return fired, err
}

// call runs fn under the time limit; healthy is false when the runtime was
// interrupted and must not be reused.
func (e *evaluator) call(rt *jsRuntime, fn goja.Callable, event map[string]any) (fired bool, err error, healthy bool) {
	stopped := make(chan struct{})
	timer := time.AfterFunc(e.timeout, func() {
		rt.vm.Interrupt(errConditionTimeout)
		close(stopped)
	})
	v, err := fn(goja.Undefined(), rt.vm.ToValue(event))
	if !timer.Stop() {
		<-stopped
		rt.vm.ClearInterrupt()
		if err == nil {
			// Interrupted just after it returned: the answer stands.
			return v.ToBoolean(), nil, false
		}
		return false, err, false
	}
	if err != nil {
		return false, err, true
	}
	return v.ToBoolean(), nil, true
}
