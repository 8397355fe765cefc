package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// liveDims are the columns of session_live's dimensions 0-3.
var liveDims = []string{"country_code", "device_type", "browser", "os"}

// compareLive checks the session_live counters, and the live figures of
// Stats at now, against a full scan of sessions: every key of every
// dimension (not only the top buckets), the online total and the presence
// counts.
func compareLive(t *testing.T, s *postgres.Store, step string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for dim, col := range liveDims {
		scan, counters := map[string][2]int64{}, map[string][2]int64{}
		read := func(into map[string][2]int64, sql string, args ...any) {
			t.Helper()
			rows, err := s.Pool().Query(ctx, sql, args...)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			defer rows.Close()
			for rows.Next() {
				var k string
				var n, online int64
				if err := rows.Scan(&k, &n, &online); err != nil {
					t.Fatal(err)
				}
				into[k] = [2]int64{n, online}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		read(scan, `SELECT `+col+`, count(*), count(*) FILTER (WHERE status = 'active')
			FROM sessions WHERE status <> 'ended' GROUP BY 1`)
		read(counters, `SELECT key, sum(live)::int8, sum(online)::int8 FROM session_live WHERE dim = $1
			GROUP BY key HAVING sum(live) <> 0 OR sum(online) <> 0`, dim)
		if !maps.Equal(scan, counters) {
			t.Errorf("%s: %s counters %v, full scan %v", step, col, counters, scan)
		}
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatalf("%s: stats: %v", step, err)
	}
	var online, m15, m30 int64
	err = s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'active'),
			count(*) FILTER (WHERE last_seen >= $1::timestamptz - interval '15 minutes'),
			count(*) FILTER (WHERE last_seen >= $1::timestamptz - interval '30 minutes')
		FROM sessions WHERE status <> 'ended'`, now).Scan(&online, &m15, &m30)
	if err != nil {
		t.Fatal(err)
	}
	var users, blocked int64
	if err := s.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE blocked) FROM users`).Scan(&users, &blocked); err != nil {
		t.Fatal(err)
	}
	if st.TotalUsers != users || st.BlockedUsers != blocked {
		t.Errorf("%s: stats users=%d blocked=%d; full scan %d %d", step, st.TotalUsers, st.BlockedUsers, users, blocked)
	}
	if st.OnlineNow != online || st.Active15m != m15 || st.Active30m != m30 {
		t.Errorf("%s: stats online=%d 15m=%d 30m=%d; full scan %d %d %d", step, st.OnlineNow, st.Active15m, st.Active30m, online, m15, m30)
	}
	for i, got := range [][]sm.Count{st.ByCountry, st.ByDevice, st.ByBrowser, st.ByOS} {
		rows, err := s.Pool().Query(ctx, `SELECT `+liveDims[i]+`, count(*) FROM sessions WHERE status <> 'ended'
			GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`)
		if err != nil {
			t.Fatal(err)
		}
		want := []sm.Count{}
		for rows.Next() {
			var c sm.Count
			if err := rows.Scan(&c.Key, &c.Count); err != nil {
				t.Fatal(err)
			}
			want = append(want, c)
		}
		rows.Close()
		if !slices.Equal(got, want) {
			t.Errorf("%s: stats by %s %v, full scan %v", step, liveDims[i], got, want)
		}
	}
}

// variedDevices and variedCountries spread test sessions over the
// dashboard's dimensions.
var (
	variedDevices = []sm.Device{{Type: "desktop", Browser: "Firefox", OS: "Linux"},
		{Type: "mobile", Browser: "Safari", OS: "iOS"}, {Type: "desktop", Browser: "Chrome", OS: "Windows"},
		{Type: "", Browser: "", OS: ""}}
	variedCountries = []string{"DE", "FR", "", "US", "JP"}
)

// The live counters stay exact under concurrent writers of every kind:
// logins, ends, touches that reactivate, sweeps, deletes, erasure, and new
// and (un)blocked users.
func TestLiveCountersConcurrent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
	var users []*sm.User
	for i := range 6 {
		users = append(users, mkUser(t, s, fmt.Sprintf("w%d", i)))
	}
	const workers, perWorker = 6, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			var mine []string
			for i := range perWorker {
				id := fmt.Sprintf("c%d-%03d", w, i)
				at := now.Add(-time.Duration(rng.IntN(180)) * time.Minute)
				ses := &sm.Session{ID: id, UserID: users[rng.IntN(len(users))].ID, Status: sm.StatusActive,
					AuthMethod: sm.AuthPassword, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour),
					Device: variedDevices[rng.IntN(len(variedDevices))], RefreshFamily: "f-" + id,
					Location: sm.Location{CountryCode: variedCountries[rng.IntN(len(variedCountries))]}}
				if rng.IntN(3) == 0 {
					ses.Status = sm.StatusInactive
				}
				if err := s.CreateSession(ctx, ses, []byte("rt-"+id)); err != nil {
					errs <- err
					continue
				}
				mine = append(mine, id)
				pick := func() string { return mine[rng.IntN(len(mine))] }
				var err error
				op := rng.IntN(8)
				switch op {
				case 0:
					_, err = s.EndSession(ctx, pick(), sm.EndLogout, now)
				case 1:
					err = s.TouchSessions(ctx, []sm.LastSeen{{SessionID: pick(), At: now}, {SessionID: pick(), At: now}})
				case 2:
					_, _, err = s.SweepStale(ctx, sm.StaleSweep{Now: now, InactiveBefore: now.Add(-time.Hour)})
				case 3:
					err = s.DeleteSession(ctx, pick())
				case 4:
					_, err = s.EndUserSessions(ctx, users[rng.IntN(len(users))].ID, sm.EndBlocked, now, "")
				case 5:
					if i%20 == 0 {
						err = s.EraseUser(ctx, users[rng.IntN(len(users))].ID, now)
					}
				case 6:
					_, err = s.UpdateUser(ctx, users[rng.IntN(len(users))].ID, sm.UserUpdate{Blocked: boolPtr(rng.IntN(2) == 0)})
				case 7:
					err = s.CreateUser(ctx, &sm.User{ID: "x" + id, Email: id + "@example.com", Username: "x" + id,
						CreatedAt: now, UpdatedAt: now, Blocked: rng.IntN(2) == 0})
				}
				if err != nil && sm.ErrorCode(err) != sm.ENOTFOUND { // deleted by an earlier step
					errs <- fmt.Errorf("worker %d step %d op %d: %w", w, i, op, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	compareLive(t, s, "after concurrent writers", now)
}

// boolPtr is new(b), which needs Go 1.26; the module declares go 1.25.
func boolPtr(b bool) *bool { return &b }
