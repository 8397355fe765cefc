package alert

import (
	"testing"
	"time"
)

// FuzzCondition compiles and runs any source as a custom condition: never a
// panic out of compile or eval, every run returns (an endless loop is
// interrupted by the time limit), a source that fails to compile gets a
// message, and nothing a condition does changes what the next one sees.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		`event.score < 60`, `return event.reasons.some(r => r.code === "vpn")`, `while(true){}`, "for(;;){}\nreturn 1",
		`Object.prototype.evil = true`, `Array.prototype.some = function(){return true}`, `globalThis.x = 1`,
		`(function f(){ f() })()`, `throw new Error("x")`, `event.score <<< 3 )`, `return`, `})(); (function(){`,
		`/(a+)+$/.test("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab")`,
		`event.constructor.constructor("return this")().score = 1`, `Symbol.iterator`, "\u2028return true", `eval("1")`,
		`new Proxy({}, {get(){ while(true){} }}).x`, `JSON.parse("{\"a\":1}").a === 1`, `[].concat.apply([], new Array(1000))`,
	} {
		f.Add(s)
	}
	e := newEvaluator(200 * time.Millisecond)
	canary, msg := compileCondition(`event.score === 55 && ({}).evil === undefined && typeof globalThis.x === "undefined" && [1].some(x => x === 2) === false`)
	if canary == nil {
		f.Fatal(msg)
	}
	f.Fuzz(func(t *testing.T, src string) {
		prog, msg := compileCondition(src)
		if prog == nil {
			if msg == "" {
				t.Fatalf("compile %q failed without a message", src)
			}
			return
		}
		in := loginInput()
		_, _ = e.eval(prog, conditionEvent(&in))
		in = loginInput()
		if ok, err := e.eval(canary, conditionEvent(&in)); !ok || err != nil {
			t.Fatalf("after %q the canary condition saw a changed world: %v, %v", src, ok, err)
		}
	})
}
