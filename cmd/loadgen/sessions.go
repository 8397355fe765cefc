package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxSessions bounds the sessions scenario.
const maxSessions = 1_000_000

// runSessions measures what cached sessions cost the server's heap: it
// reads the heap (after a forced GC, from the server's pprof endpoint: a
// binary built with -tags pprof, SM_PPROF_ADDR), starts -sessions sessions
// through POST /api/sessions (a service token; no password hash, so a
// million is minutes, not hours), uses each access token once on
// /api/auth/verify, waits for the last-seen flush, and reads the heap again;
// then, after -settle idle (the server's minute prune), once more.
// The difference per session is the figure of docs/PERFORMANCE.md; it
// includes everything the server keeps per sign-in, not only the caches.
func runSessions(ctx context.Context, o *options, out io.Writer) error {
	// A first few sign-ins make what the server builds once (the user-agent
	// parser, template and geo caches) before the measurement.
	warm, err := startSessions(ctx, o, "warm", 200)
	if err == nil {
		err = useOnce(ctx, o, warm)
	}
	if err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)
	before, err := heapInUse(ctx, o.pprof)
	if err != nil {
		return err
	}
	start := time.Now()
	tokens, err := startSessions(ctx, o, "run", o.sessions)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sessions: started %d in %s\n", len(tokens), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := useOnce(ctx, o, tokens); err != nil {
		return err
	}
	fmt.Fprintf(out, "sessions: each access token used once on /api/auth/verify in %s\n", time.Since(start).Round(time.Millisecond))
	n := len(tokens)
	tokens = nil
	time.Sleep(1500 * time.Millisecond) // the last-seen flusher runs at most 1 s apart
	after, err := heapInUse(ctx, o.pprof)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sessions: server heap in use (after GC) %.1f MB before, %.1f MB after: %.0f bytes per session over %d sessions\n",
		float64(before)/1e6, float64(after)/1e6, float64(after-before)/float64(n), n)
	if o.pid > 0 {
		fmt.Fprintf(out, "sessions: server RSS %s\n", procStatus(o.pid, "VmRSS"))
	}
	if o.settle <= 0 {
		return nil
	}
	// Idle: the server's minute prune lets the stale states' emails go; a
	// session idle for longer than that costs this much.
	time.Sleep(o.settle)
	idle, err := heapInUse(ctx, o.pprof)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sessions: after %s idle, heap in use (after GC) %.1f MB: %.0f bytes per idle session\n",
		o.settle, float64(idle)/1e6, float64(int64(idle)-int64(before))/float64(n))
	if o.pid > 0 {
		fmt.Fprintf(out, "sessions: server RSS %s\n", procStatus(o.pid, "VmRSS"))
	}
	return nil
}

// startSessions opens n sessions with o.connections workers; each is a
// distinct external user (the sign-in pipeline without a password).
func startSessions(ctx context.Context, o *options, phase string, n int) ([]string, error) {
	tokens := make([]string, n)
	run := fmt.Sprintf("%s-%x", phase, time.Now().UnixNano())
	err := inParallel(ctx, o.connections, n, func(i int) error {
		body := fmt.Sprintf(`{"externalUserId":"lg-%s-%d","email":"lg-%s-%d@example.com","ip":"203.0.113.%d","userAgent":"loadgen"}`, run, i, run, i, 1+i%250)
		a, err := openSession(ctx, setupClient, o.target, o.serviceToken, []byte(body))
		tokens[i] = a.JWT
		return err
	})
	return tokens, err
}

// sessionsClient keeps a connection per worker (the default keeps two).
var sessionsClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}

// useOnce sends one forward-auth request per token, o.connections at a time.
func useOnce(ctx context.Context, o *options, tokens []string) error {
	return inParallel(ctx, o.connections, len(tokens), func(i int) error {
		req, err := http.NewRequestWithContext(ctx, "GET", o.target+"/api/auth/verify", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tokens[i])
		resp, err := sessionsClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("verify: %d", resp.StatusCode)
		}
		return nil
	})
}

// inParallel calls f(0..n-1) on workers goroutines; the first error stops
// the run and is returned.
func inParallel(ctx context.Context, workers, n int, f func(i int) error) error {
	if _, err := parallel(ctx, workers, n, true, f); err != nil {
		return err
	}
	return ctx.Err()
}

// parallel calls f(0..n-1) on workers goroutines until ctx ends, and
// after an error only when !stop; it returns how many calls failed and
// the first error.
func parallel(ctx context.Context, workers, n int, stop bool, f func(i int) error) (failed int, first error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if failed++; first == nil {
						first = err
					}
					mu.Unlock()
					if stop {
						next.Store(int64(n))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return failed, first
}

// heapInUse is the server's HeapAlloc after a GC, read from its pprof heap
// profile (debug=1 ends with the runtime.MemStats lines).
func heapInUse(ctx context.Context, pprofURL string) (uint64, error) {
	if err := checkLoopback(pprofURL); err != nil {
		return 0, fmt.Errorf("-pprof: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(pprofURL, "/")+"/debug/pprof/heap?gc=1&debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return findMemStat(resp.Body, "HeapAlloc")
}

// findMemStat reads "# name = value" from a debug=1 heap profile.
func findMemStat(r io.Reader, name string) (uint64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := "# " + name + " = "
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strconv.ParseUint(v, 10, 64)
		}
	}
	return 0, errors.Join(errors.New("no "+name+" in the heap profile (is the server built with -tags pprof and SM_PPROF_ADDR set?)"), sc.Err())
}
