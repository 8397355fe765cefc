package storetest

import (
	"fmt"
	"reflect"
	"testing"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// The suite keeps its own few assertions: it is imported by every store's
// tests and should pull in nothing beyond the standard library.

// noErr fails the test now if err is not nil.
func noErr(t *testing.T, err error, what ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", label(what), err)
	}
}

// equal fails the test now unless want and got are deeply equal.
func equal[T any](t *testing.T, want, got T, what ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s:\n want %+v\n  got %+v", label(what), want, got)
	}
}

// check fails the test now unless ok.
func check(t *testing.T, ok bool, what ...any) {
	t.Helper()
	if !ok {
		t.Fatalf("%s", label(what))
	}
}

// requireCode fails unless err is a sessionmanager error with code.
func requireCode(t *testing.T, err error, code string, what ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: want a %s error, got none", label(what), code)
	}
	if got := sessionmanager.ErrorCode(err); got != code {
		t.Fatalf("%s: want a %s error, got %s: %v", label(what), code, got, err)
	}
}

// label formats an optional description: a format string and arguments.
func label(what []any) string {
	if len(what) == 0 {
		return "check"
	}
	if f, ok := what[0].(string); ok {
		return fmt.Sprintf(f, what[1:]...)
	}
	return fmt.Sprint(what...)
}
