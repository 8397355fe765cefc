package main

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// runProxy starts a reverse proxy (nginx, Caddy) as a child process, waits
// until it listens on listen, and kills it when the test ends. logs tells
// what to print if it exits at start.
func runProxy(t *testing.T, name string, cmd *exec.Cmd, listen string, logs func() string) string {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	// exited is closed when the process ends (waitErr then holds why), so
	// both the start-up check and the cleanup can wait on it.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond); err == nil {
			c.Close()
			return "http://" + listen
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %v\n%s\n%s", name, waitErr, out.String(), logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s:\n%s", name, listen, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
