package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// scaleRuns is how many timed runs each admin request gets (after one
// warm-up; SM_SCALE_RUNS changes it); the table gives their median and
// 95th percentile.
const scaleRuns = 20

// TestScaleAdminAPI fills the database of a real server with SM_SCALE_N
// generated sessions (default 1,000,000) through `sessionmanager
// generate`, then times the admin API and the dashboard's session page
// over HTTP (median and p95 of scaleRuns), streams a full NDJSON export
// while sampling the heap, and runs the nightly purge of about a million
// ended sessions (SM_SCALE_PURGE, default min(N/8, 1,000,000)) while
// sign-ins run beside it, against sign-ins without it. Run it on purpose
// (docs/SCALE.md):
//
//	SM_SCALE=1 SM_SCALE_N=1000000 SM_TEST_POSTGRES_URL=... \
//	  go test -run TestScaleAdminAPI -v -timeout 120m ./cmd/sessionmanager/
//
// SM_SCALE_STORE=postgres or sqlite runs one store only.
// SM_SCALE_DATABASE_URL=postgres://.../scale names a PostgreSQL database
// to use and keep: it is generated only when it holds no sessions, so a
// 10-million-session set is loaded once (`sessionmanager generate`) and
// measured many times; the purge step then deletes from it.
// SM_SCALE_SKIP_EXPORT=1 skips the export.
func TestScaleAdminAPI(t *testing.T) {
	if os.Getenv("SM_SCALE") != "1" {
		t.Skip("set SM_SCALE=1 to run the scale test")
	}
	n := scaleEnvInt(t, "SM_SCALE_N", 1_000_000)
	only := os.Getenv("SM_SCALE_STORE")
	if only == "" || only == "postgres" {
		t.Run("postgres", func(t *testing.T) {
			env := postgresEnv(t)
			if u := os.Getenv("SM_SCALE_DATABASE_URL"); u != "" {
				env["DATABASE_URL"] = u
			}
			scaleRun(t, env, n)
		})
	}
	if only == "" || only == "sqlite" {
		t.Run("sqlite", func(t *testing.T) {
			scaleRun(t, map[string]string{"SM_DATA_DIR": t.TempDir()}, n)
		})
	}
}

// scaleEnvInt reads a positive number from the environment.
func scaleEnvInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// scaleTimes formats the median and p95 of ds.
func scaleTimes(ds []time.Duration) (p50, p95 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*95/100)]
}

func scaleRun(t *testing.T, env map[string]string, n int) {
	ctx := context.Background()
	env["SM_TRUSTED_PROXIES"] = "127.0.0.1"
	// A fixed key, so a kept database's signing keys open on the next run.
	env["SESSION_ENCRYPTION_KEY"] = "c2NhbGUtaGFybmVzcy1rZXktbm90LWEtc2VjcmV0ISE="
	// The nightly purge must not start on its own in the middle of the
	// measurements: it runs when the hour is past SM_PURGE_HOUR.
	env["SM_PURGE_HOUR"] = strconv.Itoa(min(time.Now().UTC().Hour()+1, 23))
	getenv := func(k string) string { return env[k] }
	var out, errs bytes.Buffer
	start := time.Now()
	err := run(ctx, []string{"generate", "-sessions", strconv.Itoa(n)}, getenv, strings.NewReader(""), &out, &errs)
	switch {
	case err == nil:
		t.Logf("%s", strings.TrimSpace(out.String()))
	case strings.Contains(err.Error(), "already holds"):
		t.Logf("reusing the database's sessions (%v)", err)
	default:
		t.Fatalf("generate: %v\n%s", err, errs.String())
	}
	loaded := time.Since(start)
	var a *app
	s := startServerWith(t, env, nil, func(_ context.Context, started *app) { a = started })
	read := s.adminToken("read")
	cookie := s.adminSignIn()
	var table []string
	row := func(what string, p50, p95 time.Duration, note string) {
		f := func(d time.Duration) string {
			if d <= 0 {
				return "-"
			}
			return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
		}
		table = append(table, fmt.Sprintf("| %-44s | %10s | %10s | %s |", what, f(p50), f(p95), note))
		t.Log(table[len(table)-1])
	}
	runs := scaleEnvInt(t, "SM_SCALE_RUNS", scaleRuns)
	get := func(path string, cookies []*http.Cookie) (int, []byte) {
		req, _ := http.NewRequest("GET", s.base+path, nil)
		if cookies == nil {
			req.Header.Set("Authorization", "Bearer "+read)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	timed := func(what, path string, cookies []*http.Cookie) {
		t.Helper()
		var ds []time.Duration
		var body []byte
		for i := range runs + 1 {
			start := time.Now()
			code, b := get(path, cookies)
			if code != 200 {
				t.Fatalf("GET %s: %d %s", path, code, b)
			}
			if i > 0 {
				ds = append(ds, time.Since(start))
			}
			body = b
		}
		note := fmt.Sprintf("%d bytes", len(body))
		var page struct{ Data []any }
		if json.Unmarshal(body, &page) == nil && page.Data != nil {
			note = fmt.Sprintf("%d rows", len(page.Data))
		}
		p50, p95 := scaleTimes(ds)
		row(what, p50, p95, note)
	}
	live := "&status=active,inactive"
	timed("first list page (50, created desc)", "/api/admin/sessions", nil)
	timed("first page (500, last_seen desc)", "/api/admin/sessions?sort=last_seen&limit=500", nil)
	timed("filter: country=DE, live", "/api/admin/sessions?country=DE"+live, nil)
	timed("search: q=user4242@ (one user)", "/api/admin/sessions?q=user4242%40", nil)
	timed("search: q=user42 (1,111 users at 1M)", "/api/admin/sessions?q=user42", nil)
	timed("search: q=telstra (ISP)", "/api/admin/sessions?q=telstra", nil)
	timed("search: q=germany (country name)", "/api/admin/sessions?q=germany", nil)
	timed("search: q=203.0.113 (IP, no match)", "/api/admin/sessions?q=203.0.113", nil)
	timed("filters + search: DE, live, q=user42", "/api/admin/sessions?country=DE&q=user42"+live, nil)
	timed("filters + search: DE, live, q=user4242@", "/api/admin/sessions?country=DE&q=user4242%40"+live, nil)
	timed("stats", "/api/admin/stats", nil)
	// Stats at the data's own now (its newest generated login), through the store: on
	// a kept database the clock has moved on since generate, and the
	// presence counts (sessions seen in the last 30 minutes, a tenth of
	// all when fresh) would count none.
	dataNow := scaleTime(t, ctx, env, `SELECT max(created_at) FROM sessions WHERE id LIKE 'ses-%'`)
	var ds []time.Duration
	for i := range runs + 1 {
		start := time.Now()
		st, err := a.store.Stats(ctx, dataNow)
		if err != nil {
			t.Fatalf("stats at %v: %v", dataNow, err)
		}
		if i > 0 {
			ds = append(ds, time.Since(start))
		}
		if i == runs {
			p50, p95 := scaleTimes(ds)
			row("stats at the data's now (store)", p50, p95, fmt.Sprintf("active in 30 min: %d, logins 24 h: %d", st.Active30m, st.Logins24h))
		}
	}
	timed("session (API): /api/admin/sessions/ses-00004242", "/api/admin/sessions/ses-00004242", nil)
	timed("session page (dashboard HTML)", "/admin/sessions/ses-00004242", cookie)

	// A deep page: walk 200 pages of 500 (100,000 rows in) by cursor.
	cursor, pages := "", 0
	walkStart := time.Now()
	var last time.Duration
	for pages < 200 {
		p := "/api/admin/sessions?limit=500"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		start := time.Now()
		code, b := get(p, nil)
		last = time.Since(start)
		if code != 200 {
			t.Fatalf("deep page %d: %d %s", pages, code, b)
		}
		pages++
		var page struct{ NextCursor string }
		_ = json.Unmarshal(b, &page)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	row(fmt.Sprintf("deep page (page %d of 500 by cursor)", pages), last, 0, fmt.Sprintf("walk of %d pages: %v", pages, time.Since(walkStart).Round(time.Millisecond)))
	if os.Getenv("SM_SCALE_SKIP_EXPORT") != "1" {
		scaleExport(t, s, read, row)
	}
	scalePurge(t, ctx, s, a, n, row)
	t.Logf("%d sessions (generate: %v):\n| %-44s | %10s | %10s | %s |\n|---|---:|---:|---|\n%s", n, loaded.Round(time.Millisecond),
		"request", "median", "p95", "notes", strings.Join(table, "\n"))
}

// scaleExport streams the whole NDJSON export through a client that
// counts lines, sampling runtime.MemStats.HeapInuse every 50 ms (server
// and client share this process).
func scaleExport(t *testing.T, s *server, read string, row func(string, time.Duration, time.Duration, string)) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	})
	start := time.Now()
	req, _ := http.NewRequest("GET", s.base+"/api/admin/export/sessions?format=ndjson", nil)
	req.Header.Set("Authorization", "Bearer "+read)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines, bytes := 0, 0
	for sc.Scan() {
		lines++
		bytes += len(sc.Bytes()) + 1
	}
	resp.Body.Close()
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err := sc.Err(); err != nil || resp.StatusCode != 200 {
		t.Fatalf("export: %d, %d lines, %v", resp.StatusCode, lines, err)
	}
	row("full NDJSON export", took, 0, fmt.Sprintf("%d rows, %.0f MB, %.0f rows/s", lines, float64(bytes)/1e6, float64(lines)/took.Seconds()))
	row("heap in use during the export", 0, 0, fmt.Sprintf("baseline %.1f MiB, peak %.1f MiB (+%.1f MiB)",
		float64(baseline)/(1<<20), float64(peak.Load())/(1<<20), (float64(peak.Load())-float64(baseline))/(1<<20)))
}

// scaleCutoff is the end time of the want-th oldest ended session.
func scaleCutoff(t *testing.T, ctx context.Context, env map[string]string, want int) time.Time {
	return scaleTime(t, ctx, env, `SELECT ended_at FROM sessions WHERE status = 'ended' ORDER BY ended_at LIMIT 1 OFFSET `+strconv.Itoa(want-1))
}

// scaleTime reads one time from the server's database.
func scaleTime(t *testing.T, ctx context.Context, env map[string]string, q string) time.Time {
	if dsn := env["DATABASE_URL"]; dsn != "" {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var at time.Time
		if err := conn.QueryRow(ctx, q).Scan(&at); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return at
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env["SM_DATA_DIR"], "sessionmanager.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var micros int64
	if err := db.QueryRowContext(ctx, q).Scan(&micros); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return time.UnixMicro(micros)
}

// scalePurge sets the retention so that about SM_SCALE_PURGE ended
// sessions are due, then measures password sign-ins (8 clients, each its
// own account and address) for a while without a purge, during the
// nightly purge (Manager.Purge), and without again.
func scalePurge(t *testing.T, ctx context.Context, s *server, a *app, n int, row func(string, time.Duration, time.Duration, string)) {
	want := scaleEnvInt(t, "SM_SCALE_PURGE", min(n/8, 1_000_000))
	// The retention whose cutoff leaves want ended sessions before it: the
	// want-th oldest end time.
	cutoff := scaleCutoff(t, ctx, s.env, want)
	retention := time.Since(cutoff).Round(time.Minute) + time.Minute
	if _, err := a.manager.UpdateSettings(ctx, []byte(`{"retention":"`+retention.String()+`"}`)); err != nil {
		t.Fatalf("set retention %v: %v", retention, err)
	}
	const clients = 8
	// Accounts of this run: a kept database holds the earlier runs' ones.
	run := strconv.FormatInt(time.Now().Unix(), 36)
	for i := range clients {
		s.signUp(fmt.Sprintf("purge%s-%d", run, i), fmt.Sprintf("purge%s-%d@example.com", run, i), "scale")
	}
	// login runs the clients until stop closes and returns the latencies.
	login := func(stop <-chan struct{}) []time.Duration {
		var mu sync.Mutex
		var all []time.Duration
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]any{"identifier": fmt.Sprintf("purge%s-%d", run, i), "password": "correct horse battery"})
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("POST", s.base+"/api/auth/local", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
					start := time.Now()
					resp, err := http.DefaultClient.Do(req)
					d := time.Since(start)
					if err != nil {
						t.Errorf("login: %v", err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("login %d: %d %s", i, resp.StatusCode, b)
						return
					}
					mu.Lock()
					all = append(all, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return all
	}
	phase := func(what string, d time.Duration, during func()) {
		stop := make(chan struct{})
		var ds []time.Duration
		done := make(chan struct{})
		go func() { ds = login(stop); close(done) }()
		took := d
		if during != nil {
			start := time.Now()
			during()
			took = time.Since(start)
		} else {
			time.Sleep(d)
		}
		close(stop)
		<-done
		if len(ds) == 0 {
			t.Fatalf("%s: no sign-in", what)
		}
		slices.Sort(ds)
		row(what, ds[len(ds)/2], ds[len(ds)*99/100], fmt.Sprintf("p99 (not p95) of %d sign-ins in %v", len(ds), took.Round(time.Second)))
	}
	phase("sign-in, no purge (before)", 30*time.Second, nil)
	var purged int
	phase("sign-in during the purge", 0, func() {
		start := time.Now()
		var err error
		if purged, err = a.manager.Purge(ctx); err != nil {
			t.Fatalf("purge: %v", err)
		}
		row("nightly purge", time.Since(start), 0, fmt.Sprintf("%d sessions, %.0f sessions/s", purged, float64(purged)/time.Since(start).Seconds()))
	})
	phase("sign-in, no purge (after)", 30*time.Second, nil)
	if purged < want*9/10 || purged > want*11/10 {
		t.Errorf("purged %d sessions, want about %d", purged, want)
	}
}
