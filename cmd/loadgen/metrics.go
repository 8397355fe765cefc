package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lastSeenCounter counts the last-seen notes the server wrote to its store.
const lastSeenCounter = "msm_last_seen_notes_written_total"

// scrapeCounter reads one unlabelled counter from the server's /metrics;
// -1 when it cannot.
func scrapeCounter(target, name string) float64 {
	resp, err := setupClient.Get(target + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	return findCounter(resp.Body, name)
}

// findCounter finds `name value` in a Prometheus text exposition.
func findCounter(r io.Reader, name string) float64 {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// reportLastSeen waits for the server's flusher (at most 1 s apart), then
// prints the store writes of last-seen per 1,000 requests of phase r and the
// bound: one write per session per interval (SM_LAST_SEEN_INTERVAL, 30 s by
// default), plus one for a note pending at each end.
func reportLastSeen(out io.Writer, target string, before float64, r *report, sessions int) {
	if before < 0 {
		fmt.Fprintln(out, "last-seen: /metrics not readable")
		return
	}
	time.Sleep(1500 * time.Millisecond)
	after := scrapeCounter(target, lastSeenCounter)
	writes := after - before
	intervals := int(r.duration/lastSeenInterval) + 2
	bound := sessions * intervals
	status := "OK"
	if writes > float64(bound) {
		status = "OVER THE BOUND"
	}
	per1k := 0.0
	if r.metrics.Requests > 0 {
		per1k = 1000 * writes / float64(r.metrics.Requests)
	}
	fmt.Fprintf(out, "last-seen: %.0f store writes for %d requests on %d sessions = %.3f per 1,000 requests (bound %d = sessions x %d intervals): %s\n",
		writes, r.metrics.Requests, sessions, per1k, bound, intervals, status)
}

// lastSeenInterval is the server's SM_LAST_SEEN_INTERVAL (taken from the
// environment loadgen runs in, default 30s).
var lastSeenInterval = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SM_LAST_SEEN_INTERVAL")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}()

// procStatus reads one field of /proc/<pid>/status ("" when unknown).
func procStatus(pid int, field string) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// peakRSS is the process's peak resident set (VmHWM).
func peakRSS(pid int) string { return procStatus(pid, "VmHWM") }

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux
// clear_refs "5"), so the peak reported after a phase is the phase's own,
// not the setup's (registration hashes passwords with 19 MiB each).
func resetPeakRSS(pid int) {
	if pid > 0 {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

// rssSampler reads the server's VmRSS every 100 ms while loadgen runs:
// VmHWM alone keeps the peak of the setup (registrations hash passwords
// with 19 MiB each), the samples show the resident set under load.
type rssSampler struct {
	mu      sync.Mutex
	samples []int // kB
	stop    chan struct{}
	done    chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
			var kb int
			if _, err := fmt.Sscanf(procStatus(pid, "VmRSS"), "%d kB", &kb); err == nil {
				r.mu.Lock()
				r.samples = append(r.samples, kb)
				r.mu.Unlock()
			}
		}
	}()
	return r
}

// summary stops sampling and describes the samples.
func (r *rssSampler) summary() string {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return "no samples"
	}
	s := append([]int(nil), r.samples...)
	sort.Ints(s)
	return fmt.Sprintf("VmRSS over %d samples: median %d kB, p90 %d kB, max %d kB", len(s), s[len(s)/2], s[len(s)*9/10], s[len(s)-1])
}
