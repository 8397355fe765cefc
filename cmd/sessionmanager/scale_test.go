package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestScaleAdminAPI loads SM_SCALE_N sessions (default 1,000,000) straight
// into the database of a real server and times the admin API over HTTP:
// list pages, a filtered page, a deep cursor page, stats and a full NDJSON
// export, sampling the heap during the export. Run it on purpose
// (docs/SCALE.md):
//
//	SM_SCALE=1 SM_SCALE_N=1000000 SM_TEST_POSTGRES_URL=... \
//	  go test -run TestScaleAdminAPI -v -timeout 60m ./cmd/sessionmanager/
//
// SM_SCALE_STORE=postgres or sqlite runs one store only.
func TestScaleAdminAPI(t *testing.T) {
	if os.Getenv("SM_SCALE") != "1" {
		t.Skip("set SM_SCALE=1 to run the scale test")
	}
	n := 1_000_000
	if v := os.Getenv("SM_SCALE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("SM_SCALE_N=%q is not a positive number", v)
		}
	}
	only := os.Getenv("SM_SCALE_STORE")
	if only == "" || only == "postgres" {
		t.Run("postgres", func(t *testing.T) {
			s := startServer(t, postgresEnv(t))
			scaleRun(t, s, n, func(now time.Time) error { return seedPostgres(s.env["DATABASE_URL"], n, now) })
		})
	}
	if only == "" || only == "sqlite" {
		t.Run("sqlite", func(t *testing.T) {
			s := startServer(t, nil)
			scaleRun(t, s, n, func(now time.Time) error {
				return seedSQLite(filepath.Join(s.env["SM_DATA_DIR"], "sessionmanager.db"), n, now)
			})
		})
	}
}

func scaleRun(t *testing.T, s *server, n int, seed func(now time.Time) error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	start := time.Now()
	if err := seed(now); err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("loaded %d sessions (%d users) in %v", n, n/10+1, time.Since(start).Round(time.Millisecond))
	read := s.adminToken("read")
	var table []string
	row := func(what string, d time.Duration, note string) {
		took := "-"
		if d > 0 {
			took = d.Round(100 * time.Microsecond).String()
		}
		table = append(table, fmt.Sprintf("| %-40s | %12s | %s |", what, took, note))
	}
	get := func(path string) (map[string]any, time.Duration) {
		t.Helper()
		var body map[string]any
		var took time.Duration
		// The first call warms caches and plans; the second is measured.
		for range 2 {
			start := time.Now()
			code, _, b := s.call("GET", path, read, nil)
			took = time.Since(start)
			if code != 200 {
				t.Fatalf("GET %s: %d %v", path, code, b)
			}
			body = b
		}
		return body, took
	}
	body, d := get("/api/admin/sessions")
	row("first list page (50, created desc)", d, fmt.Sprintf("%d rows", len(body["data"].([]any))))
	body, d = get("/api/admin/sessions?sort=last_seen&limit=500")
	row("first page (500, last_seen desc)", d, fmt.Sprintf("%d rows", len(body["data"].([]any))))
	body, d = get("/api/admin/sessions?country=DE&status=active,inactive")
	row("filtered page (country=DE, live)", d, fmt.Sprintf("%d rows", len(body["data"].([]any))))
	body, d = get("/api/admin/sessions?q=user4242%40")
	row("search page (q=user4242@)", d, fmt.Sprintf("%d rows", len(body["data"].([]any))))

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
		code, _, b := s.call("GET", p, read, nil)
		last = time.Since(start)
		if code != 200 {
			t.Fatalf("deep page %d: %d %v", pages, code, b)
		}
		pages++
		if cursor = str(b, "nextCursor"); cursor == "" {
			break
		}
	}
	row(fmt.Sprintf("deep page (page %d of 500 by cursor)", pages), last, fmt.Sprintf("walk of %d pages: %v", pages, time.Since(walkStart).Round(time.Millisecond)))
	_, d = get("/api/admin/stats")
	row("stats", d, "")

	// Full export, NDJSON, heap sampled every 50ms while it streams.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
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
	}()
	start = time.Now()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.base+"/api/admin/export/sessions?format=ndjson", nil)
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
	if err := sc.Err(); err != nil || lines != n {
		t.Fatalf("export: %d lines of %d, %v", lines, n, err)
	}
	row("full NDJSON export", took, fmt.Sprintf("%d rows, %.0f MB, %.0f rows/s", lines, float64(bytes)/1e6, float64(lines)/took.Seconds()))
	row("heap in use during export", 0, fmt.Sprintf("baseline %.1f MiB, peak %.1f MiB (+%.1f MiB)",
		float64(baseline)/(1<<20), float64(peak.Load())/(1<<20), (float64(peak.Load())-float64(baseline))/(1<<20)))
	t.Logf("%d sessions:\n| %-40s | %12s | %s |\n%s", n, "request", "time", "notes", strings.Join(table, "\n"))
}

// scaleRow is one generated session; both seeders write the same data.
type scaleRow struct {
	id, user, status, reason, country, city, device, browser, os string
	created, lastSeen, ended, expires                            time.Time
	ip                                                           netip.Addr
	vpn                                                          bool
	score                                                        int
}

var (
	scaleCountries = []string{"DE", "US", "FR", "GB", "BR", "IN", "JP", "NL", "", "PL", "ES", "IT", "CA", "AU", "SE"}
	scaleDevices   = [][3]string{{"desktop", "Chrome", "Windows"}, {"desktop", "Firefox", "Linux"}, {"mobile", "Safari", "iOS"},
		{"mobile", "Chrome", "Android"}, {"tablet", "Safari", "iPadOS"}, {"desktop", "Edge", "Windows"}}
)

// scaleSessions generates n sessions of n/10+1 users: logins spread over
// 30 days, a tenth active, a tenth inactive, the rest ended.
func scaleSessions(n int, now time.Time, fn func(i int, r *scaleRow) error) error {
	rng := rand.New(rand.NewPCG(1, 2))
	users := n/10 + 1
	var r scaleRow
	for i := range n {
		created := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Microsecond)
		lastSeen := created.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
		if lastSeen.After(now) {
			lastSeen = now
		}
		r.status, r.reason, r.ended = "ended", "logout", lastSeen
		switch x := rng.IntN(10); {
		case x < 1:
			r.status, r.reason, r.ended, lastSeen = "active", "", time.Time{}, now.Add(-time.Duration(rng.Int64N(int64(10*time.Minute))))
		case x < 2:
			r.status, r.reason, r.ended = "inactive", "", time.Time{}
		}
		d := scaleDevices[rng.IntN(len(scaleDevices))]
		r.id, r.user = fmt.Sprintf("ses-%08d", i), fmt.Sprintf("user-%07d", rng.IntN(users))
		r.country = scaleCountries[rng.IntN(len(scaleCountries))]
		r.city, r.device, r.browser, r.os = "City"+r.country, d[0], d[1], d[2]
		r.created, r.lastSeen, r.expires = created, lastSeen, created.Add(30*24*time.Hour)
		r.ip = netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		r.vpn, r.score = rng.IntN(10) == 0, rng.IntN(101)
		if err := fn(i, &r); err != nil {
			return err
		}
	}
	return nil
}

func seedPostgres(dsn string, n int, now time.Time) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	users := n/10 + 1
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "email", "username", "created_at", "updated_at"},
		pgx.CopyFromSlice(users, func(i int) ([]any, error) {
			at := now.Add(-60 * 24 * time.Hour)
			return []any{fmt.Sprintf("user-%07d", i), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("user%d", i), at, at}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy users: %w", err)
	}
	rows := make(chan []any, 1024)
	errc := make(chan error, 1)
	go func() {
		errc <- scaleSessions(n, now, func(i int, r *scaleRow) error {
			var ended any
			if !r.ended.IsZero() {
				ended = r.ended
			}
			rows <- []any{r.id, r.user, r.status, r.reason, "password", r.created, r.lastSeen, ended, r.expires,
				r.ip.String(), r.ip, "Mozilla/5.0", r.device, r.browser, r.os, r.country, r.city,
				fmt.Sprintf(`{"countryCode":%q,"city":%q}`, r.country, r.city), r.vpn, r.score}
			return nil
		})
		close(rows)
	}()
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"id", "user_id", "status", "end_reason", "auth_method",
		"created_at", "last_seen", "ended_at", "expires_at", "ip", "ip_net", "user_agent",
		"device_type", "browser", "os", "country_code", "city", "location", "threat_vpn", "score"}, &chanSource{rows: rows})
	if err != nil {
		return fmt.Errorf("copy sessions: %w", err)
	}
	if err := <-errc; err != nil {
		return err
	}
	// Fresh statistics, as autovacuum keeps them in production.
	_, err = conn.Exec(ctx, "VACUUM ANALYZE users, sessions")
	return err
}

// chanSource feeds CopyFrom from a channel, so no slice of n rows is held.
type chanSource struct {
	rows <-chan []any
	cur  []any
}

func (c *chanSource) Next() bool {
	r, ok := <-c.rows
	c.cur = r
	return ok
}
func (c *chanSource) Values() ([]any, error) { return c.cur, nil }
func (c *chanSource) Err() error             { return nil }

func seedSQLite(path string, n int, now time.Time) error {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=foreign_keys(0)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const batch = 500
	insert := func(head string, cols, rows int, args []any) error {
		var b strings.Builder
		b.WriteString(head)
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
		for i := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		_, err := tx.ExecContext(ctx, b.String(), args...)
		return err
	}
	micros := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UnixMicro()
	}
	users := n/10 + 1
	var args []any
	for i := range users {
		at := now.Add(-60 * 24 * time.Hour).UnixMicro()
		email, name := fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("user%d", i)
		args = append(args, fmt.Sprintf("user-%07d", i), email, email, name, name, at, at)
		if (i+1)%batch == 0 || i == users-1 {
			if err := insert("INSERT INTO users (id, email, email_key, username, username_key, created_at, updated_at) VALUES ", 7, len(args)/7, args); err != nil {
				return fmt.Errorf("insert users: %w", err)
			}
			args = args[:0]
		}
	}
	const cols = 20
	err = scaleSessions(n, now, func(i int, r *scaleRow) error {
		ip := r.ip.As16()
		args = append(args, r.id, r.user, r.status, r.reason, "password", micros(r.created), micros(r.lastSeen), micros(r.ended), micros(r.expires),
			r.ip.String(), ip[:], "Mozilla/5.0", r.device, r.browser, r.os, r.country, r.city,
			fmt.Sprintf(`{"countryCode":%q,"city":%q}`, r.country, r.city), r.vpn, r.score)
		if (i+1)%batch == 0 || i == n-1 {
			if err := insert(`INSERT INTO sessions (id, user_id, status, end_reason, auth_method, created_at, last_seen_at, ended_at, expires_at,
				ip, ip_bin, user_agent, device_type, browser, os, country_code, city, location, threat_vpn, score) VALUES `, cols, len(args)/cols, args); err != nil {
				return fmt.Errorf("insert sessions: %w", err)
			}
			args = args[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}
