package main

import (
	"strings"
	"testing"

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
