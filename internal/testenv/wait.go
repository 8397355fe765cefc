package testenv

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// WaitLimit bounds every wait for an asynchronous effect; it is a safety
// net against hangs, not a speed assertion.
const WaitLimit = 10 * time.Second

// Recv returns the next value of ch, failing t after WaitLimit.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(WaitLimit):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// Eventually polls cond until it holds, failing t after WaitLimit.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Goroutines counts the live goroutines whose stack mentions fn (a
// function name as the runtime prints it, "(*LocalBus).deliver"): a cheap
// leak check for the goroutines a test's object owns.
func Goroutines(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}
