package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// cappedPacer stops a pacer after max hits, so no phase can exceed the
// request bound whatever the rate.
type cappedPacer struct {
	vegeta.Pacer
	max uint64
}

func (p cappedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.max {
		return 0, true
	}
	return p.Pacer.Pace(elapsed, hits)
}

// report is what one phase measured.
type report struct {
	name     string
	metrics  vegeta.Metrics
	duration time.Duration
	// serverCPU is the server's utime+stime over the phase (-pid; -1: unknown).
	serverCPU time.Duration
}

// rps is requests per second over the phase.
func (r *report) rps() float64 { return r.metrics.Rate }

// attack runs one phase: targets from tr at o.rate (0: as fast as
// o.connections in-flight requests allow) for o.duration, each result
// handed to onResult (may be nil) before it is counted.
func attack(ctx context.Context, o *options, name string, tr vegeta.Targeter, keepBody bool, onResult func(*vegeta.Result)) *report {
	opts := []func(*vegeta.Attacker){
		vegeta.Connections(o.connections), vegeta.MaxConnections(o.connections),
		vegeta.KeepAlive(true), vegeta.Timeout(10 * time.Second), vegeta.Redirects(vegeta.NoFollow),
	}
	if !keepBody {
		opts = append(opts, vegeta.MaxBody(0))
	}
	var pacer vegeta.Pacer = vegeta.ConstantPacer{Freq: o.rate, Per: time.Second}
	if o.rate == 0 {
		// One worker per connection: a closed loop, like wrk's connections.
		opts = append(opts, vegeta.Workers(uint64(o.connections)), vegeta.MaxWorkers(uint64(o.connections)))
	}
	atk := vegeta.NewAttacker(opts...)
	r := &report{name: name, serverCPU: -1}
	var cpu0 []time.Duration
	if o.pid > 0 && name != "hello" { // hello is served by loadgen itself
		cpu0 = cpuTimes([]int{o.pid})
		defer func() {
			if cpu1 := cpuTimes([]int{o.pid}); cpu0[0] >= 0 && cpu1[0] >= 0 {
				r.serverCPU = cpu1[0] - cpu0[0]
			}
		}()
	}
	start := time.Now()
	results := atk.Attack(tr, cappedPacer{Pacer: pacer, max: maxRequests}, o.duration, name)
	for {
		select {
		case <-ctx.Done():
			atk.Stop()
			for res := range results {
				r.metrics.Add(res)
			}
			r.metrics.Close()
			r.duration = time.Since(start)
			return r
		case res, ok := <-results:
			if !ok {
				r.metrics.Close()
				r.duration = time.Since(start)
				return r
			}
			if onResult != nil {
				onResult(res)
			}
			r.metrics.Add(res)
		}
	}
}

// print writes a phase's figures: rate, latency quantiles, statuses, errors.
func (r *report) print(w io.Writer) {
	m := &r.metrics
	l := m.Latencies
	fmt.Fprintf(w, "%-8s requests %-9d in %-7s  %9.0f req/s  (%.0f ok/s, success %.2f%%)\n",
		r.name, m.Requests, m.Duration.Round(time.Millisecond), m.Rate, m.Throughput, 100*m.Success)
	fmt.Fprintf(w, "         latency p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.Quantile(0.999)), fmtDur(l.Max))
	codes := make([]string, 0, len(m.StatusCodes))
	for c, n := range m.StatusCodes {
		codes = append(codes, fmt.Sprintf("%s:%d", c, n))
	}
	sort.Strings(codes)
	fmt.Fprintf(w, "         status %s\n", strings.Join(codes, " "))
	if r.serverCPU >= 0 && m.Requests > 0 && r.duration > 0 {
		fmt.Fprintf(w, "         server CPU %.1f µs per request (%.0f%% of a core)\n",
			float64(r.serverCPU)/float64(time.Microsecond)/float64(m.Requests), 100*float64(r.serverCPU)/float64(r.duration))
	}
	if len(m.Errors) > 0 {
		errs := m.Errors
		if len(errs) > 5 {
			errs = errs[:5]
		}
		fmt.Fprintf(w, "         errors (first %d of %d kinds): %s\n", len(errs), len(m.Errors), strings.Join(errs, "; "))
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	default:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
}
