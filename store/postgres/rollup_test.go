package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// The session_days, session_hours and session_ticks rollups and the session_live counters that Stats reads stay equal to a full scan of
// sessions through every kind of write: inserts, ends, sweeps, touches,
// purges, deletes and erasure, at several instants.
func TestStatsRollupMatchesFullScan(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 9))
	now := time.Date(2026, 3, 10, 13, 17, 5, 123456000, time.UTC)
	users := []*sm.User{mkUser(t, s, "ann"), mkUser(t, s, "bob"), mkUser(t, s, "cyd")}
	var ids []string
	for i := range 300 {
		// Logins from 40 days ago to 1 day ahead, at microsecond offsets.
		at := now.Add(-40*day + time.Duration(rng.Int64N(int64(41*day/time.Microsecond)))*time.Microsecond)
		id := fmt.Sprintf("r%03d", i)
		ids = append(ids, id)
		mkSession(t, s, id, users[i%3].ID, at, func(x *sm.Session) {
			x.LastSeenAt = at.Add(time.Duration(rng.IntN(7200)) * time.Second)
			x.ExpiresAt = at.Add(time.Duration(rng.IntN(40)) * day)
			if rng.IntN(4) == 0 {
				x.Status = sm.StatusInactive
			}
			x.Device = variedDevices[i%len(variedDevices)]
			x.Location = sm.Location{CountryCode: variedCountries[i%len(variedCountries)], City: "C" + id}
		})
	}
	// The sweep deletes the session_ticks rows of more than a day before
	// its now: presence counts at an earlier instant are no longer asked for.
	var swept time.Time
	check := func(step string) {
		t.Helper()
		for _, at := range []time.Time{now, now.Add(-3 * day), dayStart(now), now.Add(17 * time.Hour)} {
			presence := swept.IsZero() || !at.Add(-30*time.Minute).Before(swept.Add(-day))
			compareStats(t, s, step, at, presence)
			compareLive(t, s, step, at)
		}
	}
	check("inserted")
	for _, id := range ids[:40] {
		if _, err := s.EndSession(ctx, id, sm.EndLogout, now.Add(-time.Duration(rng.IntN(1000))*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	check("ended")
	if _, err := s.EndUserSessions(ctx, users[1].ID, sm.EndBlocked, now, ids[1]); err != nil {
		t.Fatal(err)
	}
	check("ended user")
	var notes []sm.LastSeen
	for _, id := range ids {
		notes = append(notes, sm.LastSeen{SessionID: id, At: now.Add(-time.Duration(rng.IntN(600)) * time.Minute)})
	}
	if err := s.TouchSessions(ctx, notes); err != nil {
		t.Fatal(err)
	}
	check("touched")
	if _, _, err := s.SweepStale(ctx, sm.StaleSweep{Now: now, InactiveBefore: now.Add(-time.Hour), IdleBefore: now.Add(-5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	swept = now
	check("swept")
	if _, err := s.PurgeEnded(ctx, now.Add(-2*time.Hour), 1_000_000); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[250:260] {
		_ = s.DeleteSession(ctx, id) // some are purged already
	}
	check("purged and deleted")
	if err := s.EraseUser(ctx, users[2].ID, now); err != nil {
		t.Fatal(err)
	}
	check("erased")
}

// dayStart is the UTC midnight of t's day.
func dayStart(t time.Time) time.Time { return t.UTC().Truncate(day) }

const day = 24 * time.Hour

// compareStats checks Stats at now against the definitions computed by a
// full scan of sessions (the presence counts when presence is set).
func compareStats(t *testing.T, s *postgres.Store, step string, now time.Time, presence bool) {
	t.Helper()
	ctx := context.Background()
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatalf("%s: stats: %v", step, err)
	}
	var today, h24, d7, a15, a30 int64
	var avg float64
	err = s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE created_at >= $2),
			count(*) FILTER (WHERE status <> 'ended' AND last_seen >= $1::timestamptz - interval '15 minutes'),
			count(*) FILTER (WHERE status <> 'ended' AND last_seen >= $1::timestamptz - interval '30 minutes'),
			count(*) FILTER (WHERE created_at >= $1::timestamptz - interval '24 hours'),
			count(*) FILTER (WHERE created_at >= $1::timestamptz - interval '168 hours'),
			coalesce(avg(extract(epoch FROM coalesce(ended_at, last_seen) - created_at))
				FILTER (WHERE created_at >= $1::timestamptz - interval '720 hours'), 0)::float8
		FROM sessions`, now, dayStart(now)).Scan(&today, &a15, &a30, &h24, &d7, &avg)
	if err != nil {
		t.Fatal(err)
	}
	if st.LoginsToday != today || st.Logins24h != h24 || st.Logins7d != d7 ||
		math.Abs(st.AvgSessionSeconds-avg) > 1e-6*math.Max(1, avg) {
		t.Errorf("%s at %v: stats today=%d 24h=%d 7d=%d avg=%v; full scan %d %d %d %v",
			step, now, st.LoginsToday, st.Logins24h, st.Logins7d, st.AvgSessionSeconds, today, h24, d7, avg)
	}
	if presence && (st.Active15m != a15 || st.Active30m != a30) {
		t.Errorf("%s at %v: stats active 15m=%d 30m=%d; full scan %d %d", step, now, st.Active15m, st.Active30m, a15, a30)
	}
	first := dayStart(now).Add(-13 * day)
	for i, c := range st.LoginsPerDay {
		var n int64
		d := first.Add(time.Duration(i) * day)
		_ = s.Pool().QueryRow(ctx, `SELECT count(*) FROM sessions WHERE created_at >= $1 AND created_at < $2`, d, d.Add(day)).Scan(&n)
		if c.Key != d.Format(time.DateOnly) || c.Count != n {
			t.Errorf("%s at %v: day %d is %+v, full scan %s %d", step, now, i, c, d.Format(time.DateOnly), n)
		}
	}
	if len(st.LoginsPerDay) != 14 {
		t.Errorf("%s: %d days", step, len(st.LoginsPerDay))
	}
}
