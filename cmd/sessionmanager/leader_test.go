package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// buildBinary builds this command once per test into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sessionmanager")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// child is a sessionmanager process.
type child struct {
	cmd *exec.Cmd
	log *syncBuffer
}

func startChild(t *testing.T, bin string, env map[string]string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, "serve"), log: &syncBuffer{}}
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Env = append(c.cmd.Env, "SM_DATA_DIR="+t.TempDir(), "SM_ADDR="+freePort(t), "SM_ADMIN_PASSWORD=admin password for tests", "SM_THREAT_FEEDS=off", "PATH="+os.Getenv("PATH"))
	c.cmd.Stderr = c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _, _ = c.cmd.Process.Wait() })
	return c
}

// TestLeaderKilledMidPurge: instance A leads the nightly purge of 300,000
// ended sessions and is killed with SIGKILL while its DELETE runs; instance
// B takes the leadership over and finishes: every ended session past
// retention is gone, no live session is touched, nothing is purged twice.
func TestLeaderKilledMidPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and purges 300k rows")
	}
	db := testenv.PostgresSchema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	bin := buildBinary(t)
	env := map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": token.GenerateKey(), "SM_PURGE_HOUR": "0", "SM_RETENTION": "1h", "SM_LOG_LEVEL": "info"}

	// Migrate, then seed straight into the tables.
	mig := exec.Command(bin, "migrate")
	mig.Env = []string{"DATABASE_URL=" + db, "SM_DATA_DIR=" + t.TempDir(), "SESSION_ENCRYPTION_KEY=" + env["SESSION_ENCRYPTION_KEY"]}
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	const ended, live = 300000, 100
	seed := `INSERT INTO sessions (id, user_id, status, end_reason, created_at, last_seen, ended_at, expires_at)
		SELECT 'e' || g, 'u' || (g % 1000), 'ended', 'logout', now() - interval '3 days', now() - interval '3 days', now() - interval '2 hours', now() + interval '27 days'
		FROM generate_series(1, $1) g`
	if _, err := conn.Exec(ctx, seed, ended); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO sessions (id, user_id, status, created_at, last_seen, expires_at)
		SELECT 'l' || g, 'u' || g, 'active', now(), now(), now() + interval '30 days' FROM generate_series(1, $1) g`, live); err != nil {
		t.Fatal(err)
	}

	a := startChild(t, bin, env)
	// Catch A's purge in flight: one of its batches (WITH due AS ...
	// DELETE FROM sessions ...) running.
	deadline := time.Now().Add(60 * time.Second)
	var inFlight bool
	for time.Now().Before(deadline) {
		var n int
		_ = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query ILIKE '%DELETE FROM sessions%'`).Scan(&n)
		if n > 0 {
			inFlight = true
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !inFlight {
		t.Fatalf("A's purge was never seen running\n%s", a.log.String())
	}
	b := startChild(t, bin, env)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = a.cmd.Process.Wait()
	var left int
	_ = conn.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE status = 'ended'`).Scan(&left)
	t.Logf("A killed with SIGKILL during its purge; %d of %d ended sessions still there", left, ended)

	for {
		var endedLeft, liveLeft int
		if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'ended'), count(*) FILTER (WHERE status <> 'ended') FROM sessions`).Scan(&endedLeft, &liveLeft); err != nil {
			t.Fatal(err)
		}
		if liveLeft != live {
			t.Fatalf("the purge touched live sessions: %d left of %d", liveLeft, live)
		}
		if endedLeft == 0 {
			break
		}
		if time.Now().After(deadline.Add(60 * time.Second)) {
			t.Fatalf("B did not finish the purge: %d ended sessions left\nB: %s", endedLeft, b.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// B took the job over. (A's DELETE may still commit on the server after
	// A died: then B's purge finds nothing left; either way each row is
	// deleted exactly once, by one committed statement.)
	for !strings.Contains(b.log.String(), `"msg":"cluster: leading","name":"purge"`) {
		if time.Now().After(deadline.Add(90 * time.Second)) {
			t.Fatalf("B never took the purge leadership over:\n%s", b.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
