package main

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestAlertsSurviveReceiverOutageAndRestart: the webhook receiver is down
// while alerts are raised, the service is restarted in between, and when
// the receiver comes back every alert arrives exactly once.
func TestAlertsSurviveReceiverOutageAndRestart(t *testing.T) {
	key := testLicense(t, license.EditionAdvanced)
	// Reserve a port for the receiver, and keep it closed for now (down).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookAddr := l.Addr().String()
	l.Close()

	env := map[string]string{"LICENSE_KEY": key, "SM_DATA_DIR": t.TempDir()}
	s := startServer(t, env)
	write := s.adminToken("write")
	code, _, body := s.call("POST", "/api/admin/alerts/rules", write, map[string]any{
		"name": "every new device", "enabled": true, "condition": "true",
		"channels": []map[string]any{{"type": "webhook", "url": "http://" + hookAddr + "/hook", "secret": "whsec-outage-test"}},
	})
	if code != 201 {
		t.Fatalf("rule: %d %v", code, body)
	}
	s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "otto", "email": "otto@example.com", "password": "correct horse battery"})
	const logins = 10
	for i := range logins - 1 {
		if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "otto", "password": "correct horse battery"}); code != 200 {
			t.Fatalf("login %d: %d %v", i, code, out)
		}
	}
	// Let the worker try (and fail) at least once, then restart the service.
	time.Sleep(500 * time.Millisecond)
	s.stop()
	env2 := map[string]string{"LICENSE_KEY": key, "SM_DATA_DIR": env["SM_DATA_DIR"], "SM_ADDR": s.env["SM_ADDR"]}
	// The restarted service runs on a manual clock: the test passes the
	// worker's backoff instead of waiting for it.
	manual := manualClock()
	s2 := startServerOn(t, env2, manual)

	// The receiver comes back on the same address.
	rc := &receiver{secret: []byte("whsec-outage-test")}
	seen := map[string]int{}
	l2, err := net.Listen("tcp", hookAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		seen[r.Header.Get("X-MSM-Idempotency-Key")]++
		rc.mu.Unlock()
		rc.ServeHTTP(w, r)
	})}
	go srv.Serve(l2)
	defer srv.Close()

	write2 := s2.adminToken("write")
	// The worker's backoff (5s base, with jitter) brings them in by itself
	// as the clock passes it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		manual.clock.Advance(10 * time.Second)
		rc.mu.Lock()
		n := len(seen)
		rc.mu.Unlock()
		if n >= logins {
			break
		}
		if time.Now().After(deadline) {
			_, _, ds := s2.call("GET", "/api/admin/alerts/deliveries", write2, nil)
			t.Fatalf("%d of %d alerts arrived; outbox: %v", n, logins, ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would show up now
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, c := range seen {
		if c != 1 {
			t.Errorf("alert %s delivered %d times", k, c)
		}
	}
	if len(seen) != logins || rc.bad != 0 {
		t.Errorf("%d distinct alerts (want %d), %d bad", len(seen), logins, rc.bad)
	}
	_, _, ds := s2.call("GET", "/api/admin/alerts/deliveries?status=delivered", write2, nil)
	if n := len(ds["data"].([]any)); n != logins {
		t.Errorf("outbox says %d delivered, want %d", n, logins)
	}
}
