// Command loadgen drives a running Magic Session Manager on loopback with
// vegeta and prints throughput, latency quantiles and errors by status.
//
//	loadgen -target http://127.0.0.1:8080 -scenario verify -duration 10s -connections 32
//
// Scenarios: hello (a bare net/http handler loadgen starts itself: the
// baseline), verify (forward auth; runs hello first with the same
// connections and prints the ratio), me, login, refresh (each refresh token
// used once, chained) and mixed (verify, me, refresh, login and admin force
// logouts; every request on an already-terminated session must get 401),
// sessions (the server's heap per cached session) and fleet (force logouts
// at a rate across several instances, each probed for the time until it
// refuses the ended session; fleet.go). hello-server only serves the bare
// handler for -duration, for wrk to measure.
//
// It refuses any target that is not a loopback address, and every run is
// bounded: at most 60 s and 5,000,000 requests per phase. Scenario
// sessions (heap per cached session) starts at most 1,000,000 sessions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Hard bounds of one phase.
const (
	maxDuration = 60 * time.Second
	maxRequests = 5_000_000
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	target      string
	scenario    string
	rate        int
	duration    time.Duration
	connections int
	users       int
	adminToken  string
	logoutRate  int
	pid         int
	rounds      int
	password    string
	sessions    int
	// serviceToken is an admin token with scope service (POST /api/sessions).
	serviceToken string
	pprof        string
	// fleet
	targets    string
	pids       string
	sessionIDs string
	probeEvery int
	quiet      int
	idle       time.Duration
	// settle is how long sessions waits idle before its last heap reading.
	settle time.Duration
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.target, "target", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
	fs.StringVar(&o.scenario, "scenario", "verify", "hello, verify, me, login, refresh, mixed or fleet")
	fs.IntVar(&o.rate, "rate", 0, "requests per second; 0 = as fast as the connections allow")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of the measured phase (at most 60s)")
	fs.IntVar(&o.connections, "connections", 32, "concurrent connections (and, at -rate 0, requests in flight)")
	fs.IntVar(&o.users, "users", 20, "users loadgen registers for the run (each starts one session)")
	fs.StringVar(&o.adminToken, "admin-token", "", "admin API token with scope write (mixed: force logouts)")
	fs.IntVar(&o.logoutRate, "logout-rate", 5, "mixed: admin force logouts per second")
	fs.IntVar(&o.rounds, "rounds", 3, "verify: rounds of hello then verify (each -duration long)")
	fs.IntVar(&o.pid, "pid", 0, "server process id: report its peak RSS (VmHWM) from /proc")
	fs.StringVar(&o.password, "password", "loadgen password 0123456789", "password of the users loadgen registers")
	fs.IntVar(&o.sessions, "sessions", 20_000, "sessions: how many sessions to start and use once")
	fs.StringVar(&o.serviceToken, "service-token", "", "sessions, fleet: admin token with scope service (POST /api/sessions)")
	fs.StringVar(&o.pprof, "pprof", "", "sessions: the server's SM_PPROF_ADDR as a URL (binary built with -tags pprof)")
	fs.StringVar(&o.targets, "targets", "", "fleet: comma-separated base URLs of the instances (loopback only)")
	fs.StringVar(&o.pids, "pids", "", "fleet: comma-separated process ids of the instances, same order: report the CPU each spends")
	fs.StringVar(&o.sessionIDs, "session-ids", "", "fleet: file of session ids (one a line) to log out besides the probed ones; else every session is created through the API")
	fs.IntVar(&o.probeEvery, "probe-every", 20, "fleet: measure the refusal on every instance for one force logout in N (0: none)")
	fs.IntVar(&o.quiet, "quiet", 0, "fleet: the last N instances get no request at all (their CPU is the revocation stream's)")
	fs.DurationVar(&o.settle, "settle", 65*time.Second, "sessions: idle time before the last heap reading (the server prunes stale states every minute; 0: no reading)")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "fleet: idle phase before the stream, the CPU baseline (with -pids)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.duration <= 0 || o.duration > maxDuration:
		return nil, fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	case o.connections < 1 || o.connections > 1024:
		return nil, errors.New("-connections must be in [1, 1024]")
	case o.rate < 0:
		return nil, errors.New("-rate must be >= 0")
	case o.rounds < 1 || o.rounds > 10:
		return nil, errors.New("-rounds must be in [1, 10]")
	case o.users < 1 || o.users > 10_000:
		return nil, errors.New("-users must be in [1, 10000]")
	case o.scenario == "sessions" && (o.serviceToken == "" || o.pprof == "" || o.sessions < 1 || o.sessions > maxSessions):
		return nil, fmt.Errorf("-scenario sessions needs -service-token, -pprof and -sessions in [1, %d]", maxSessions)
	case o.scenario == "fleet" && (o.targets == "" || o.adminToken == "" || o.rate < 1):
		return nil, errors.New("-scenario fleet needs -targets, -admin-token (scope write) and -rate (force logouts per second)")
	case o.settle < 0 || o.settle > 5*time.Minute:
		return nil, errors.New("-settle must be in [0, 5m]")
	case o.probeEvery < 0 || o.quiet < 0 || o.idle < 0 || o.idle > maxDuration:
		return nil, errors.New("-probe-every and -quiet must be >= 0, -idle in [0, 60s]")
	case o.scenario == "mixed" && o.adminToken == "":
		return nil, errors.New("-scenario mixed needs -admin-token (sessionmanager admin create-token --name load --scope write)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	if o.scenario != "hello" && o.scenario != "hello-server" && o.scenario != "fleet" {
		if err := checkLoopback(o.target); err != nil {
			return err
		}
	}
	rssBefore := peakRSS(o.pid)
	var rss *rssSampler
	if o.pid > 0 {
		rss = sampleRSS(o.pid)
	}
	switch o.scenario {
	case "hello":
		_, err = runHello(ctx, o, out)
	case "hello-server":
		err = serveHello(ctx, o, out)
	case "verify":
		err = runVerify(ctx, o, out)
	case "me", "login", "refresh":
		err = runSimple(ctx, o, out)
	case "mixed":
		err = runMixed(ctx, o, out)
	case "sessions":
		err = runSessions(ctx, o, out)
	case "fleet":
		err = runFleet(ctx, o, out)
	default:
		return fmt.Errorf("unknown -scenario %q", o.scenario)
	}
	if err != nil {
		return err
	}
	if o.pid > 0 {
		fmt.Fprintf(out, "server pid %d: %s; peak RSS (VmHWM) %s since the start of the measured phase (before setup: %s)\n", o.pid, rss.summary(), peakRSS(o.pid), rssBefore)
	}
	return nil
}
