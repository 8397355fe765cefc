package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The fleet scenario: force logouts at -rate through the admin API of a
// fleet of instances (-targets), and for a sample of them (-probe-every) the
// time from the logout's 200 to each instance's first 401 for that session.
//
// Probe design. A sampled session is first used on every instance (GET
// /api/auth/verify answers 200: each instance holds it as live in its state
// cache, so only the revocation stream can end it there, not a store read).
// Then the logout is sent to one instance (the origin); when its 200 has
// been read, every instance is polled back to back with the session's
// token, one request in flight per instance, until it answers 401. The
// figure per instance is the time from the 200 to the 401 having been read,
// so it includes one poll's round trip: an upper bound, with the resolution
// of one loopback request. The origin must refuse the very first poll (a
// force logout holds for the very next request there). A poll still
// answered 200 after probeGiveUp is a miss.
//
// CPU. With -pids, the utime+stime of each instance (/proc/PID/stat) is
// read over an idle phase (-idle, nothing sent) and over the stream; the
// difference is what the stream costs. -quiet N keeps the last N instances
// free of any request (no logout, no probe): their extra CPU is the
// revocation stream's alone, a message from another instance each.

// probeGiveUp bounds one probe: a session still accepted this long after its
// logout is reported as a miss (the state cache's TTL refuses it by then
// anyway, so this would mean the message was lost).
const probeGiveUp = 2 * time.Second

// fleetInFlight bounds the logouts (and probes) in flight: past it the
// schedule slips, and the report says by how much.
const fleetInFlight = 512

type fleetSession struct {
	id, jwt string
}

// fleetRun is the state of one fleet run.
type fleetRun struct {
	o       *options
	targets []string // every instance
	active  []int    // instances that take requests (all but the quiet ones)
	client  *http.Client

	logoutOK, logoutErr atomic.Int64
	warmFail            atomic.Int64
	originLate          atomic.Int64 // the origin's first poll was not a 401
	misses              atomic.Int64
	polls               atomic.Int64
	firstPoll           atomic.Int64 // instances that refused the very first poll
	mu                  sync.Mutex
	logoutLat           []time.Duration
	refusal             [][]time.Duration // per instance
	firstErr            string
}

func runFleet(ctx context.Context, o *options, out io.Writer) error {
	targets := strings.Split(o.targets, ",")
	for _, t := range targets {
		if err := checkLoopback(t); err != nil {
			return err
		}
	}
	pids, err := parsePids(o.pids, len(targets))
	if err != nil {
		return err
	}
	if o.quiet >= len(targets) {
		return fmt.Errorf("-quiet %d leaves no instance to send logouts to (%d targets)", o.quiet, len(targets))
	}
	f := &fleetRun{o: o, targets: targets, refusal: make([][]time.Duration, len(targets)), client: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: 4096, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
			DisableCompression: true,
		},
	}}
	for i := range len(targets) - o.quiet {
		f.active = append(f.active, i)
	}
	total := o.rate * int(o.duration/time.Millisecond) / 1000
	if total < 1 {
		return errors.New("-rate x -duration is less than one logout")
	}
	probed := 0
	if o.probeEvery > 0 {
		probed = (total + o.probeEvery - 1) / o.probeEvery
	}
	bulk, err := readSessionIDs(o.sessionIDs, total-probed)
	if err != nil {
		return err
	}
	start := time.Now()
	made, err := f.createSessions(ctx, total-len(bulk))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "fleet setup: %d instances (%d quiet), %d logouts planned at %d/s for %s, %d probed (one in %d); %d sessions from -session-ids, %d created through POST /api/sessions in %s\n",
		len(targets), o.quiet, total, o.rate, o.duration, probed, o.probeEvery, len(bulk), len(made), time.Since(start).Round(time.Millisecond))
	// The order of the logouts: probed sessions at every probeEvery-th
	// place, the others in between.
	plan := make([]fleetSession, 0, total)
	pi, bi := 0, 0
	for i := range total {
		if o.probeEvery > 0 && i%o.probeEvery == 0 || bi >= len(bulk) {
			plan = append(plan, made[pi])
			pi++
			continue
		}
		plan = append(plan, fleetSession{id: bulk[bi]})
		bi++
	}

	time.Sleep(time.Second) // let the setup's writes settle
	idle := cpuOver(ctx, pids, o.idle)
	before := cpuTimes(pids)
	streamStart := time.Now()
	behind := f.stream(ctx, plan)
	elapsed := time.Since(streamStart)
	after := cpuTimes(pids)
	f.print(out, total, elapsed, behind)
	if len(pids) > 0 {
		f.printCPU(out, pids, idle, before, after, elapsed)
	}
	if n := f.originLate.Load() + f.misses.Load(); n > 0 {
		return fmt.Errorf("%d probes were not refused in time (origin not on the first request, or a miss)", n)
	}
	return nil
}

// stream sends the logouts of plan at o.rate, for o.duration at most (a
// fleet that cannot keep up leaves the rest unsent, and the report says so),
// and returns the largest delay behind the schedule.
func (f *fleetRun) stream(ctx context.Context, plan []fleetSession) time.Duration {
	sem := make(chan struct{}, fleetInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	var behind time.Duration
	for i := 0; i < len(plan); {
		if ctx.Err() != nil || time.Since(start) > f.o.duration {
			break
		}
		due := int(time.Since(start).Seconds() * float64(f.o.rate))
		if due <= i {
			time.Sleep(500 * time.Microsecond)
			continue
		}
		for ; i < len(plan) && i < due; i++ {
			sem <- struct{}{} // may wait for a slot: check the bound again
			if time.Since(start) > f.o.duration {
				<-sem
				break
			}
			if lag := time.Since(start) - time.Duration(float64(i)/float64(f.o.rate)*float64(time.Second)); lag > behind {
				behind = lag
			}
			origin := f.active[i%len(f.active)]
			s := plan[i]
			wg.Go(func() {
				defer func() { <-sem }()
				if s.jwt != "" {
					f.probe(ctx, s, origin)
				} else {
					f.logout(ctx, s.id, origin)
				}
			})
		}
	}
	wg.Wait()
	return behind
}

// logout ends session id through origin's admin API; true on a 2xx.
func (f *fleetRun) logout(ctx context.Context, id string, origin int) bool {
	t := time.Now()
	code, body, err := f.do(ctx, "POST", f.targets[origin]+"/api/admin/sessions/"+url.PathEscape(id)+"/terminate", f.o.adminToken, nil)
	if err != nil || code/100 != 2 {
		f.logoutErr.Add(1)
		f.noteErr(fmt.Sprintf("logout on instance %d: status %d err %v: %.200s", origin, code, err, body))
		return false
	}
	f.logoutOK.Add(1)
	f.mu.Lock()
	f.logoutLat = append(f.logoutLat, time.Since(t))
	f.mu.Unlock()
	return true
}

// probe: the session is used on every active instance, logged out on
// origin, and each instance is polled until it refuses it.
func (f *fleetRun) probe(ctx context.Context, s fleetSession, origin int) {
	var wg sync.WaitGroup
	for _, i := range f.active {
		wg.Go(func() {
			if code, _, err := f.do(ctx, "GET", f.targets[i]+"/api/auth/verify", s.jwt, nil); err != nil || code != 200 {
				f.warmFail.Add(1)
				f.noteErr(fmt.Sprintf("warm-up on instance %d: status %d err %v", i, code, err))
			}
		})
	}
	wg.Wait()
	if !f.logout(ctx, s.id, origin) {
		return
	}
	t0 := time.Now()
	for _, i := range f.active {
		wg.Go(func() {
			for n := 1; ctx.Err() == nil; n++ {
				code, _, err := f.do(ctx, "GET", f.targets[i]+"/api/auth/verify", s.jwt, nil)
				f.polls.Add(1)
				lat := time.Since(t0)
				if err == nil && code == 401 {
					if n == 1 {
						f.firstPoll.Add(1)
					}
					if i == origin && n > 1 {
						f.originLate.Add(1)
						f.noteErr(fmt.Sprintf("origin instance %d accepted the session %d times after the logout's 200", i, n-1))
					}
					f.mu.Lock()
					f.refusal[i] = append(f.refusal[i], lat)
					f.mu.Unlock()
					return
				}
				if lat > probeGiveUp {
					f.misses.Add(1)
					f.noteErr(fmt.Sprintf("instance %d still answers %d %v %s after the logout", i, code, err, lat.Round(time.Millisecond)))
					return
				}
			}
		})
	}
	wg.Wait()
}

func (f *fleetRun) noteErr(s string) {
	f.mu.Lock()
	if f.firstErr == "" {
		f.firstErr = s
	}
	f.mu.Unlock()
}

// do sends one request on the fleet's client and reads the answer.
func (f *fleetRun) do(ctx context.Context, method, url, bearer string, body []byte) (int, []byte, error) {
	return request(ctx, f.client, method, url, bearer, body)
}

// createSessions makes n sessions through POST /api/sessions (an external
// sign-in: no password hash), spread over the active instances, 8 at a time.
func (f *fleetRun) createSessions(ctx context.Context, n int) ([]fleetSession, error) {
	if n == 0 {
		return nil, nil
	}
	if f.o.serviceToken == "" {
		return nil, fmt.Errorf("%d sessions to create: -service-token is required (sessionmanager admin create-token --name fleet --scope service)", n)
	}
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	prefix := "lgfleet-" + hex.EncodeToString(rb[:])
	out := make([]fleetSession, n)
	failed, first := parallel(ctx, 8, n, false, func(i int) error {
		body, _ := json.Marshal(map[string]string{"externalUserId": fmt.Sprintf("%s-%d", prefix, i), "ip": "127.0.0.1", "userAgent": "loadgen fleet"})
		a, err := openSession(ctx, f.client, f.targets[f.active[i%len(f.active)]], f.o.serviceToken, body)
		out[i] = fleetSession{id: a.Session.ID, jwt: a.JWT}
		return err
	})
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d sessions could not be created, first: %w", failed, n, first)
	}
	return out, ctx.Err()
}

// readSessionIDs reads want session ids, one a line, from path ("" = none).
func readSessionIDs(path string, want int) ([]string, error) {
	if path == "" || want <= 0 {
		return nil, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-session-ids: %w", err)
	}
	defer fh.Close()
	var ids []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() && len(ids) < want {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			ids = append(ids, id)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-session-ids: %w", err)
	}
	if len(ids) < want {
		return nil, fmt.Errorf("-session-ids %s holds %d ids, the run needs %d (rate x duration - probed)", path, len(ids), want)
	}
	return ids, nil
}

func parsePids(s string, n int) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var pids []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p <= 0 {
			return nil, fmt.Errorf("-pids: %q is not a process id", f)
		}
		pids = append(pids, p)
	}
	if len(pids) != n {
		return nil, fmt.Errorf("-pids names %d processes for %d targets (one per target, same order)", len(pids), n)
	}
	return pids, nil
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100
// on every Linux architecture Go supports).
const clockTicks = 100

// cpuTimes returns each process's utime+stime so far (-1 when unreadable).
func cpuTimes(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		out[i] = -1
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: state is
		// field 3, utime 14, stime 15.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 13 {
			continue
		}
		u, err1 := strconv.ParseInt(fields[11], 10, 64)
		k, err2 := strconv.ParseInt(fields[12], 10, 64)
		if err1 == nil && err2 == nil {
			out[i] = time.Duration(u+k) * time.Second / clockTicks
		}
	}
	return out
}

// cpuOver returns the CPU each process spent per second over d (nothing is
// sent meanwhile).
func cpuOver(ctx context.Context, pids []int, d time.Duration) []float64 {
	if len(pids) == 0 || d <= 0 {
		return nil
	}
	a := cpuTimes(pids)
	t := time.Now()
	sleepFor(ctx, d)
	b := cpuTimes(pids)
	return perSecond(a, b, time.Since(t))
}

func perSecond(a, b []time.Duration, over time.Duration) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = -1
		if a[i] >= 0 && b[i] >= 0 {
			out[i] = float64(b[i]-a[i]) / float64(over) // seconds of CPU per second
		}
	}
	return out
}

func sleepFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func quantile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[int(float64(len(s)-1)*q)]
}

func (f *fleetRun) print(out io.Writer, planned int, elapsed, behind time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := f.logoutOK.Load()
	slices.Sort(f.logoutLat)
	fmt.Fprintf(out, "fleet: %d of %d planned force logouts answered 2xx (%d failed, %d not sent: the fleet fell behind) in %s = %.0f/s; the schedule slipped at most %s\n",
		ok, planned, f.logoutErr.Load(), int64(planned)-ok-f.logoutErr.Load(), elapsed.Round(time.Millisecond), float64(ok)/elapsed.Seconds(), behind.Round(time.Millisecond))
	fmt.Fprintf(out, "fleet: logout call latency p50 %s  p99 %s  max %s\n",
		fmtDur(quantile(f.logoutLat, .5)), fmtDur(quantile(f.logoutLat, .99)), fmtDur(quantile(f.logoutLat, 1)))
	var all []time.Duration
	worst := time.Duration(0)
	for i, l := range f.refusal {
		slices.Sort(l)
		all = append(all, l...)
		if len(l) > 0 {
			if p := quantile(l, .99); p > worst {
				worst = p
			}
			fmt.Fprintf(out, "  instance %2d: %5d probes, refused after p50 %s  p90 %s  p99 %s  max %s\n",
				i, len(l), fmtDur(quantile(l, .5)), fmtDur(quantile(l, .9)), fmtDur(quantile(l, .99)), fmtDur(quantile(l, 1)))
		}
	}
	slices.Sort(all)
	if len(all) > 0 {
		fmt.Fprintf(out, "fleet: refusal after the logout's 200, all instances: %d probes, p50 %s  p90 %s  p99 %s  max %s; worst instance p99 %s; %d polls\n",
			len(all), fmtDur(quantile(all, .5)), fmtDur(quantile(all, .9)), fmtDur(quantile(all, .99)), fmtDur(quantile(all, 1)), fmtDur(worst), f.polls.Load())
		// A refusal on the first poll means the message was there before
		// the instance served the poll: the figure is then that poll's
		// round trip (its queueing in a busy server included), not the
		// stream's delay.
		fmt.Fprintf(out, "fleet: %d of %d refused the very first poll sent after the 200 (the figure is then the poll's own round trip)\n", f.firstPoll.Load(), len(all))
	}
	fmt.Fprintf(out, "fleet: origin accepted the ended session after its 200: %d (must be 0); misses (accepted %s after): %d (must be 0); warm-up failures: %d\n",
		f.originLate.Load(), probeGiveUp, f.misses.Load(), f.warmFail.Load())
	if f.firstErr != "" {
		fmt.Fprintln(out, "  first error:", f.firstErr)
	}
}

func (f *fleetRun) printCPU(out io.Writer, pids []int, idle []float64, before, after []time.Duration, elapsed time.Duration) {
	stream := perSecond(before, after, elapsed)
	ok := float64(f.logoutOK.Load())
	var quiet []float64
	for i, pid := range pids {
		role := "logouts+probes"
		if i >= len(pids)-f.o.quiet {
			role = "quiet"
		}
		delta := stream[i] - idle[i]
		perMsg := 0.0
		if ok > 0 {
			perMsg = delta * elapsed.Seconds() / ok * 1e6
		}
		fmt.Fprintf(out, "  cpu instance %2d (pid %d, %s): idle %.1f%%, stream %.1f%% of a core; +%.1f%% = %.1f µs per force logout\n",
			i, pid, role, 100*idle[i], 100*stream[i], 100*delta, perMsg)
		if role == "quiet" {
			quiet = append(quiet, perMsg)
		}
	}
	if len(quiet) > 0 {
		slices.Sort(quiet)
		fmt.Fprintf(out, "fleet: revocation stream cost on a quiet instance: %.1f µs CPU per force logout (median of %d), %.1f%% of a core at %.0f/s\n",
			quiet[len(quiet)/2], len(quiet), quiet[len(quiet)/2]*ok/elapsed.Seconds()/1e4, ok/elapsed.Seconds())
	}
}
