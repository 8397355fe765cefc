package testenv

import (
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
