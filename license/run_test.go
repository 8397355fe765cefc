package license

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRunLogsWarningAndExpiry: each re-check logs a warning inside the 14
// days before expiry and an error once expired; nextCheck wakes Run at
// those instants instead of a day late.
func TestRunLogsWarningAndExpiry(t *testing.T) {
	pub, priv := GenerateVendorKey()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	exp := now.Add(20 * 24 * time.Hour)
	key, err := Issue(priv, Licence{Licensee: "Acme", Edition: EditionPremium, IssuedAt: now, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := New(Options{PublicKey: pub, Key: key, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time, level, text string) {
		t.Helper()
		now = at
		logs.Reset()
		if _, err := s.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "level="+level) || !strings.Contains(logs.String(), text) {
			t.Fatalf("at %s want %s %q, got:\n%s", at, level, text, logs.String())
		}
	}
	check(now, "INFO", "valid until")
	if got := s.nextCheck(now); got != DefaultCheckInterval {
		t.Fatalf("nextCheck 20 days out = %s, want the daily interval", got)
	}
	if got := s.nextCheck(exp.Add(-14*24*time.Hour - 3*time.Hour)); got != 3*time.Hour {
		t.Fatalf("nextCheck 3h before the warning period = %s, want 3h", got)
	}
	check(exp.Add(-14*24*time.Hour), "WARN", "expires on 2026-06-21 (in 14 days)")
	if got := s.nextCheck(exp.Add(-2 * time.Hour)); got != 2*time.Hour {
		t.Fatalf("nextCheck 2h out = %s, want 2h", got)
	}
	check(exp, "ERROR", "expired on 2026-06-21")
	if got := s.nextCheck(exp); got != DefaultCheckInterval {
		t.Fatalf("nextCheck after expiry = %s", got)
	}
}

// TestRunStopsWithContext: Run returns when its context ends.
func TestRunStopsWithContext(t *testing.T) {
	s, err := New(Options{PublicKey: BuiltinPublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	cancel()
	<-done
}
