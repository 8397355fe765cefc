package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// runHello measures a bare net/http handler that loadgen serves itself on
// loopback: the ceiling any handler on this machine can reach with this
// client, against which forward auth is compared in the same run.
func runHello(ctx context.Context, o *options, out io.Writer) (*report, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: helloHandler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	tgt := vegeta.Target{Method: "GET", URL: "http://" + ln.Addr().String() + "/"}
	r := attack(ctx, o, "hello", vegeta.NewStaticTargeter(tgt), false, nil)
	r.print(out)
	return r, nil
}

// serveHello serves the bare handler of runHello for -duration, for another
// load tool (wrk) to measure against: the address is printed first.
func serveHello(ctx context.Context, o *options, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: helloHandler, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "hello-server: http://%s for %s\n", ln.Addr(), o.duration)
	go func() { _ = srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case <-time.After(o.duration):
	}
	return srv.Close()
}

// helloHandler is the bare net/http handler: the baseline.
var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello")
})

// runVerify alternates hello and forward auth with the same connections
// (-rounds times, so drift in the machine's load hits both alike) and
// prints verify's throughput as a share of hello's: per round and the
// median of the rounds.
func runVerify(ctx context.Context, o *options, out io.Writer) error {
	pool, err := setupUsers(ctx, o, out)
	if err != nil {
		return err
	}
	resetPeakRSS(o.pid)
	tr := bearerTargeter(o.target+"/api/auth/verify", pool.accessTokens())
	var ratios []float64
	var requests uint64
	var busy time.Duration
	before := scrapeCounter(o.target, lastSeenCounter)
	for i := range o.rounds {
		hello, err := runHello(ctx, o, out)
		if err != nil {
			return err
		}
		r := attack(ctx, o, "verify", tr, false, nil)
		r.print(out)
		requests += r.metrics.Requests
		busy += r.duration + hello.duration
		ratios = append(ratios, r.rps()/hello.rps())
		fmt.Fprintf(out, "round %d verify/hello throughput ratio: %.1f%% (%.0f / %.0f req/s)\n", i+1, 100*r.rps()/hello.rps(), r.rps(), hello.rps())
	}
	sort.Float64s(ratios)
	fmt.Fprintf(out, "verify/hello throughput ratio, median of %d rounds: %.1f%%\n", len(ratios), 100*ratios[len(ratios)/2])
	all := &report{name: "verify", duration: busy}
	all.metrics.Requests = requests
	reportLastSeen(out, o.target, before, all, len(pool.sessions))
	return nil
}
