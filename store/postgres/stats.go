package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// counterTables are the tables the session and user triggers keep (the
// counters Stats reads). Each write upserts rows of them, so they rely on
// (auto)vacuum and analyze like any hot table.
var counterTables = []string{"session_days", "session_live", "session_hours", "session_ticks", "user_counts"}

// Autovacuum reports whether the server's autovacuum is on: the counter
// tables need it (every session write leaves dead versions of their rows).
func (s *Store) Autovacuum(ctx context.Context) (bool, error) {
	var v string
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('autovacuum')`).Scan(&v); err != nil {
		return false, mapErr(err, "settings")
	}
	return v == "on", nil
}

// Dashboard windows.
const (
	topBuckets = 20
	loginDays  = 14
	day        = 24 * time.Hour
	avgWindow  = 30 * day
)

// dayStart is the UTC midnight that starts t's day.
func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// nextDayStart is the first UTC midnight at or after t: a window starting at
// t is the sessions of [t, nextDayStart(t)) plus whole days from the rollup.
func nextDayStart(t time.Time) time.Time {
	if d := dayStart(t); d.Equal(t) {
		return d
	}
	return dayStart(t).Add(day)
}

// shorterSide splits a window that starts at from by the unit (a tick, an
// hour) that holds from, on from's shorter side: counters are summed from
// the unit first on, and the index entries of [lo, hi) are added (sign 1:
// late in the unit, from to the next unit) or taken off (sign -1: early in
// it, from's whole unit is counted and its part before from removed). The
// index walk is at most half a unit.
func shorterSide(from time.Time, unit time.Duration) (first, lo, hi time.Time, sign int64) {
	start, next := from.Truncate(unit), from.Truncate(unit)
	if next.Before(from) {
		next = next.Add(unit)
	}
	if from.Sub(start) < next.Sub(from) {
		return start, start, from, -1
	}
	return next, from, next, 1
}

// tick is the unit of session_ticks (migration 0026): live sessions are
// counted per ten seconds of last_seen.
const tick = 10 * time.Second

// unixTick and unixHour number the tick and the hour that hold t, as the
// migrations' unix_tick and unix_hour do.
func unixTick(t time.Time) int64 { return t.Truncate(tick).Unix() / int64(tick/time.Second) }

func unixHour(t time.Time) int64 { return t.Truncate(time.Hour).Unix() / 3600 }

// ticksKept is how long session_ticks keeps a tick (SweepStale deletes
// older ones): Stats reads the last half hour of them; a day leaves room
// for Stats asked at an earlier now (the scale harness asks at the
// generated data's newest login).
const ticksKept = 24 * time.Hour

// presence counts the live sessions seen at or after each of froms: whole
// ticks from session_ticks, and the part of a tick around from from the
// live index (index-only), on from's shorter side (shorterSide). The
// counters and the index are read in one statement, one snapshot, so the
// two ways give the same count; the index walk is at most five seconds of
// last-seen times (a busy instance touches ~100,000 sessions a minute at
// 10 M: docs/SCALE.md).
func (s *Store) presence(ctx context.Context, froms ...time.Time) ([]int64, error) {
	n := len(froms)
	ticks, los, his, signs := make([]int64, n), make([]time.Time, n), make([]time.Time, n), make([]int64, n)
	for i, from := range froms {
		var first time.Time
		first, los[i], his[i], signs[i] = shorterSide(from, tick)
		ticks[i] = unixTick(first)
	}
	rows, err := s.pool.Query(ctx, `SELECT
			(SELECT coalesce(sum(live), 0) FROM session_ticks WHERE tick >= w.tick)
			+ w.sign * (SELECT count(*) FROM sessions WHERE status <> 'ended' AND last_seen >= w.lo AND last_seen < w.hi)
		FROM unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::int8[]) WITH ORDINALITY AS w(tick, lo, hi, sign, i)
		ORDER BY w.i`, ticks, los, his, signs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// windowCount is the logins of a sliding window and their summed lengths.
type windowCount struct {
	logins  int64
	seconds float64
}

// windows counts the sessions created at or after each of froms and sums
// their lengths: whole days from session_days, whole hours of the partial
// first day from session_hours, and the part of from's hour on its shorter
// side (shorterSide) from the sessions-by-created_at index (index-only).
// One statement, one snapshot: the same counts both ways, from at most half
// an hour of logins.
func (s *Store) windows(ctx context.Context, froms ...time.Time) ([]windowCount, error) {
	n := len(froms)
	firstHours, lastHours, days, los, his, signs := make([]int64, n), make([]int64, n), make([]time.Time, n),
		make([]time.Time, n), make([]time.Time, n), make([]int64, n)
	for i, from := range froms {
		var first time.Time
		first, los[i], his[i], signs[i] = shorterSide(from, time.Hour)
		firstHours[i] = unixHour(first)
		days[i] = nextDayStart(from)
		lastHours[i] = unixHour(days[i])
	}
	rows, err := s.pool.Query(ctx, `SELECT
			(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= w.day)
			+ (SELECT coalesce(sum(logins), 0) FROM session_hours WHERE hour >= w.first_hour AND hour < w.last_hour) + w.sign * p.n,
			((SELECT coalesce(sum(seconds), 0) FROM session_days WHERE day >= w.day)
			+ (SELECT coalesce(sum(seconds), 0) FROM session_hours WHERE hour >= w.first_hour AND hour < w.last_hour)
			+ w.sign * p.seconds)::float8
		FROM unnest($1::int8[], $2::int8[], $3::date[], $4::timestamptz[], $5::timestamptz[], $6::int8[])
			WITH ORDINALITY AS w(first_hour, last_hour, day, lo, hi, sign, i)
		CROSS JOIN LATERAL (
			SELECT count(*) AS n, coalesce(sum(extract(epoch FROM coalesce(ended_at, last_seen) - created_at)), 0) AS seconds
			FROM sessions WHERE created_at >= w.lo AND created_at < w.hi) p
		ORDER BY w.i`, firstHours, lastHours, days, los, his, signs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (windowCount, error) {
		var c windowCount
		return c, r.Scan(&c.logins, &c.seconds)
	})
}

// Stats computes the dashboard aggregates at now, all in SQL, with queries
// run concurrently on separate connections, none of which reads every
// session or every live session:
//   - the session_live counters (kept by triggers): the top countries,
//     devices, browsers and OSes and the online total;
//   - the presence counts from the session_ticks counters (live sessions
//     per ten seconds of last_seen), plus at most five seconds of the live
//     index;
//   - the user_counts counters: users and blocked users;
//   - logins and summed session lengths of each sliding window (24 h, 7 d,
//     30 d) from whole days of the session_days rollup, whole hours of the
//     session_hours rollup (its partial first day), and at most half an
//     hour of the sessions-by-created_at index;
//   - logins per day for the last 14 days, from the rollup.
//
// The answer is not one snapshot: a login between the queries may show in
// one count and not another, which a dashboard does not mind.
func (s *Store) Stats(ctx context.Context, now time.Time) (*sm.Stats, error) {
	now = now.UTC()
	today := dayStart(now)
	firstDay := today.AddDate(0, 0, -(loginDays - 1))
	from24h := now.Add(-day)
	st := &sm.Stats{ByCountry: []sm.Count{}, ByDevice: []sm.Count{}, ByBrowser: []sm.Count{}, ByOS: []sm.Count{}}
	var (
		presence []int64
		windows  []windowCount
	)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.liveCounters(ctx, st) })
	g.Go(func() (err error) {
		presence, err = s.presence(ctx, now.Add(-15*time.Minute), now.Add(-30*time.Minute))
		return err
	})
	g.Go(func() error {
		return s.pool.QueryRow(ctx, `SELECT
				(SELECT coalesce(sum(total), 0)::int8 FROM user_counts), (SELECT coalesce(sum(blocked), 0)::int8 FROM user_counts),
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $1)`, today).
			Scan(&st.TotalUsers, &st.BlockedUsers, &st.LoginsToday)
	})
	g.Go(func() (err error) {
		windows, err = s.windows(ctx, now.Add(-day), now.Add(-7*day), now.Add(-avgWindow))
		return err
	})
	g.Go(func() error {
		rows, err := s.pool.Query(ctx, `SELECT i, (SELECT coalesce(sum(logins), 0) FROM session_days WHERE day = $1::date + i)
			FROM generate_series(0, $2 - 1) AS i ORDER BY i`, firstDay, loginDays)
		if err != nil {
			return err
		}
		var i int
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&i, &n}, func() error {
			st.LoginsPerDay = append(st.LoginsPerDay, sm.Count{Key: firstDay.AddDate(0, 0, i).Format(time.DateOnly), Count: n})
			return nil
		})
		return err
	})
	g.Go(func() error {
		rows, err := s.pool.Query(ctx, `SELECT type, count(*) FROM events WHERE at >= $1 AND type = ANY($2) GROUP BY type`,
			from24h, sm.StatsChallengeTypes)
		if err != nil {
			return err
		}
		found := map[string]int64{}
		var typ string
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&typ, &n}, func() error { found[typ] = n; return nil }); err != nil {
			return err
		}
		st.Challenges24h = sm.ChallengeCounts(found)
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, mapErr(err, "stats")
	}
	st.Active15m, st.Active30m = presence[0], presence[1]
	st.Logins24h, st.Logins7d = windows[0].logins, windows[1].logins
	if avg := windows[2]; avg.logins > 0 {
		st.AvgSessionSeconds = avg.seconds / float64(avg.logins)
	}
	return st, nil
}

// liveCounters reads session_live: the top buckets of each dimension (0-3)
// and, as dimension 4, the live and active totals (every live session has
// one country value, so dimension 0's sums are the totals).
func (s *Store) liveCounters(ctx context.Context, st *sm.Stats) error {
	rows, err := s.pool.Query(ctx, `WITH sums AS (
			SELECT dim, key, sum(live)::int8 AS n, sum(online)::int8 AS online
			FROM session_live GROUP BY dim, key)
		SELECT dim, key, n FROM (
			SELECT dim, key, n, row_number() OVER (PARTITION BY dim ORDER BY n DESC, key) AS rank
			FROM sums WHERE n > 0) ranked
		WHERE rank <= $1
		UNION ALL
		SELECT 4, '', coalesce(sum(online), 0)::int8 FROM sums WHERE dim = 0
		ORDER BY 1, 3 DESC, 2`, topBuckets)
	if err != nil {
		return err
	}
	dims := []*[]sm.Count{&st.ByCountry, &st.ByDevice, &st.ByBrowser, &st.ByOS}
	var (
		dim int
		c   sm.Count
	)
	_, err = pgx.ForEachRow(rows, []any{&dim, &c.Key, &c.Count}, func() error {
		if dim < len(dims) {
			*dims[dim] = append(*dims[dim], c)
		} else {
			st.OnlineNow = c.Count
		}
		return nil
	})
	return err
}

// OnlineNow sums the active sessions of session_live (dimension 0: every
// live session has one country value). It implements sm.StatsStore.
func (s *Store) OnlineNow(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(online), 0)::int8 FROM session_live WHERE dim = 0`).Scan(&n); err != nil {
		return 0, mapErr(err, "stats")
	}
	return n, nil
}
