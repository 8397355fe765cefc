package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDemoFillsTheStoreAndKeepsItAlive(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	env := map[string]string{"SM_DATA_DIR": dir, "SM_ADDR": addr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- run(ctx, []string{"demo"}, func(k string) string { return env[k] }, nil, &out, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo exited: %v", err)
		}
	}()
	s := &server{t: t, base: "http://" + addr, env: map[string]string{"SM_DATA_DIR": dir, "DATABASE_URL": "sqlite:" + filepath.Join(dir, "demo.db")}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("demo not ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "DEMO MODE") {
		t.Errorf("demo is not labelled: %q", out.String())
	}
	tok := s.adminToken("read")
	// Wait for the seed (it runs once the service listens).
	var sessions []any
	for time.Now().Before(deadline) {
		_, _, body := s.call("GET", "/api/admin/sessions?status=active,inactive&limit=500", tok, nil)
		sessions, _ = body["data"].([]any)
		if len(sessions) >= 40 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(sessions) < 40 {
		t.Fatalf("demo has %d live sessions, want at least 40", len(sessions))
	}
	countries := map[string]bool{}
	for _, x := range sessions {
		loc, _ := x.(map[string]any)["location"].(map[string]any)
		if cc, _ := loc["countryCode"].(string); cc != "" {
			countries[cc] = true
		}
	}
	if len(countries) < 8 {
		t.Errorf("demo sessions come from %d countries, want a world", len(countries))
	}
	for {
		_, _, blocked := s.call("GET", "/api/admin/audit?type=login.blocked", tok, nil)
		if ev, _ := blocked["data"].([]any); len(ev) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("demo has no blocked login attempt")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// New logins keep coming.
	_, _, before := s.call("GET", "/api/admin/audit?type=login.succeeded&limit=500", tok, nil)
	n0 := len(before["data"].([]any))
	for time.Now().Before(deadline.Add(10 * time.Second)) {
		_, _, after := s.call("GET", "/api/admin/audit?type=login.succeeded&limit=500", tok, nil)
		if len(after["data"].([]any)) > n0 {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Error("no simulated login arrived")
}

var _ = bytes.MinRead
