package alert

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// DefaultConditionTimeout bounds one evaluation of a custom condition.
const DefaultConditionTimeout = 100 * time.Millisecond

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
// `return` is a function body; otherwise it is one expression, or, when it
// does not parse as one, statements run as a function body (which fires
// only if it returns a truthy value). The error message is
// "line L column C: message", in the admin's own coordinates.
func compileCondition(src string) (*goja.Program, string) {
	if len(src) > maxConditionLen {
		return nil, fmt.Sprintf("at most %d characters", maxConditionLen)
	}
	if returnWord.MatchString(src) {
		prog, err := compileWrapped(src, bodyPrefix, bodySuffix)
		if err != nil {
			return nil, err.String()
		}
		return prog, ""
	}
	expr := strings.TrimRight(strings.TrimSpace(src), "; \t\r\n")
	prog, exprErr := compileWrapped(expr, exprPrefix, exprSuffix)
	if prog != nil {
		return prog, ""
	}
	prog, bodyErr := compileWrapped(src, bodyPrefix, bodySuffix)
	if prog != nil {
		return prog, ""
	}
	// Both failed. The body form reads the source as it is: its error is
	// right unless both errors are inside the source and the expression
	// got further. (An error the expression form finds in its wrapper is
	// either an early end, which the body form finds too, or a ")" of the
	// source closing the wrapper's parenthesis, which the body form points
	// at.)
	if !bodyErr.atEnd && !exprErr.atEnd && (exprErr.line > bodyErr.line || (exprErr.line == bodyErr.line && exprErr.col > bodyErr.col)) {
		return nil, exprErr.String()
	}
	return nil, bodyErr.String()
}

// endMessage replaces the parser's message for an error found in the
// wrapper: it names a token the admin never wrote.
const endMessage = "Unexpected end of the condition: something is missing at the end (an operand, a closing bracket or a closing brace)"

// syntaxError is a compile error in source coordinates.
type syntaxError struct {
	line, col int
	msg       string
	// atEnd: the parser stopped in the wrapper, after the source.
	atEnd bool
}

func (e *syntaxError) String() string {
	if e.line == 0 {
		return e.msg
	}
	return fmt.Sprintf("line %d column %d: %s", e.line, e.col, e.msg)
}

// compileWrapped parses and compiles prefix+src+suffix.
func compileWrapped(src, prefix, suffix string) (*goja.Program, *syntaxError) {
	ast, err := parser.ParseFile(nil, "condition", prefix+src+suffix, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			e := list[0]
			return nil, positionOf(src, len(prefix), e.Position.Line, e.Position.Column, e.Message)
		}
		return nil, &syntaxError{msg: err.Error()}
	}
	prog, err := goja.CompileAST(ast, true)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			pos := ce.File.Position(ce.Offset)
			return nil, positionOf(src, len(prefix), pos.Line, pos.Column, ce.Message)
		}
		return nil, &syntaxError{msg: err.Error()}
	}
	return prog, nil
}

// positionOf maps a position in the wrapped source back to src. A
// position past the end of src (in the wrapper's closing part) means the
// source ended early: it is reported just after its last character, with
// endMessage rather than the wrapper's token.
func positionOf(src string, prefixLen, line, col int, msg string) *syntaxError {
	lines := strings.Split(src, "\n")
	if line == 1 {
		col -= prefixLen
	}
	if line > len(lines) || col < 1 || (line == len(lines) && col > len(lines[line-1])) {
		line = len(lines)
		for line > 1 && strings.TrimSpace(lines[line-1]) == "" {
			line--
		}
		return &syntaxError{line: line, col: len(strings.TrimRight(lines[line-1], " \t\r;")) + 1, msg: endMessage, atEnd: true}
	}
	return &syntaxError{line: line, col: col, msg: msg}
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
//
// A hardened runtime costs about a millisecond to build (freezing touches
// every built-in), so a few idle ones are kept in a channel, which a GC does
// not empty as it does a sync.Pool; the pool takes the overflow.
type evaluator struct {
	timeout time.Duration
	idle    chan *jsRuntime
	pool    sync.Pool
}

func newEvaluator(timeout time.Duration) *evaluator {
	if timeout <= 0 {
		timeout = DefaultConditionTimeout
	}
	return &evaluator{timeout: timeout, idle: make(chan *jsRuntime, max(4, 2*runtime.GOMAXPROCS(0)))}
}

// get returns an idle runtime or builds one.
func (e *evaluator) get() (*jsRuntime, error) {
	select {
	case rt := <-e.idle:
		return rt, nil
	default:
	}
	if rt, ok := e.pool.Get().(*jsRuntime); ok {
		return rt, nil
	}
	return newJSRuntime()
}

// put keeps a healthy runtime for the next evaluation.
func (e *evaluator) put(rt *jsRuntime) {
	select {
	case e.idle <- rt:
	default:
		e.pool.Put(rt)
	}
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
	rt, err := e.get()
	if err != nil {
		return false, err
	}
	healthy := false
	defer func() {
		if r := recover(); r != nil {
			fired, err = false, fmt.Errorf("condition panicked: %v", r)
			healthy = false
		}
		if healthy {
			e.put(rt)
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
	fired, healthy, err = e.call(rt, fn, event)
	return fired, err
}

// call runs fn under the time limit; healthy is false when the runtime was
// interrupted and must not be reused.
func (e *evaluator) call(rt *jsRuntime, fn goja.Callable, event map[string]any) (fired, healthy bool, err error) {
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
			return v.ToBoolean(), false, nil
		}
		return false, false, err
	}
	if err != nil {
		return false, true, err
	}
	return v.ToBoolean(), true, nil
}
