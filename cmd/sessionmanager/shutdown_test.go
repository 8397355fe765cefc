package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestShutdownDrainsPendingMail: a magic-link email still being sent when
// the service is told to stop is delivered before run returns; the
// shutdown waits for it (within its deadline) instead of dropping it.
func TestShutdownDrainsPendingMail(t *testing.T) {
	s, box := startMagicServer(t, nil)
	s.register(t, "drain")
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	box.mu.Lock()
	box.hold, box.held = hold, held
	box.mu.Unlock()
	if code, _, body := s.call("POST", "/api/auth/magic-link", "", map[string]any{"email": "drain@example.com"}); code != 202 {
		t.Fatalf("magic-link: %d %v", code, body)
	}
	testenv.Recv(t, held, "the email to reach the mail server")
	s.cancel() // SIGTERM
	s.cancel = nil
	testenv.Eventually(t, "the shutdown to wait for the email", func() bool {
		return strings.Contains(s.stderr.String(), "waiting for the emails being sent")
	})
	close(hold)
	if err := testenv.Recv(t, s.done, "run to return"); err != nil {
		t.Fatalf("run: %v\n%s", err, s.stderr.String())
	}
	if _, ok := box.take("drain@example.com"); !ok {
		t.Fatal("run returned before the email was delivered")
	}
}

// TestShutdownDeadlineWithAStuckJob: a background job that ignores its
// context does not hold the shutdown past its deadline; the admin is told
// in the log, and the final last-seen flush still runs.
func TestShutdownDeadlineWithAStuckJob(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	s := startServerWith(t, nil, func(c *config) { c.stopJobsWithin = 500 * time.Millisecond },
		func(context.Context, *app) { <-stuck }) // ignores its context
	s.cancel()
	s.cancel = nil
	if err := testenv.Recv(t, s.done, "run to return despite the stuck job"); err != nil {
		t.Fatalf("run: %v\n%s", err, s.stderr.String())
	}
	if out := s.stderr.String(); !strings.Contains(out, "background jobs did not stop in time") || !strings.Contains(out, "stopped") {
		t.Fatalf("shutdown log does not say a job was left behind:\n%s", out)
	}
}
