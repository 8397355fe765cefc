package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

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

// Stats computes the dashboard aggregates at now, all in SQL, with queries
// run concurrently on separate connections, none of which reads every
// session or every live session:
//   - the session_live counters (kept by triggers): the top countries,
//     devices, browsers and OSes and the online total;
//   - the last half hour of the partial live index, index-only: the
//     presence counts;
//   - the user_counts counters: users and blocked users;
//   - logins and summed session lengths per whole day from the session_days
//     rollup (kept by triggers), plus the partial first day of each sliding
//     window from the sessions-by-created_at index;
//   - logins per day for the last 14 days, from the rollup.
//
// The answer is not one snapshot: a login between the queries may show in
// one count and not another, which a dashboard does not mind.
func (s *Store) Stats(ctx context.Context, now time.Time) (*sm.Stats, error) {
	now = now.UTC()
	today := dayStart(now)
	firstDay := today.AddDate(0, 0, -(loginDays - 1))
	from24h, from7d, fromAvg := now.Add(-day), now.Add(-7*day), now.Add(-avgWindow)
	st := &sm.Stats{ByCountry: []sm.Count{}, ByDevice: []sm.Count{}, ByBrowser: []sm.Count{}, ByOS: []sm.Count{}}
	var (
		partialCount, daysCount int64
		partialSum, daysSum     float64
		partial24h, partial7d   int64
		days24h, days7d         int64
	)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.liveCounters(ctx, st) })
	g.Go(func() error {
		return s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE last_seen >= $1), count(*)
			FROM sessions WHERE status <> 'ended' AND last_seen >= $2`,
			now.Add(-15*time.Minute), now.Add(-30*time.Minute)).Scan(&st.Active15m, &st.Active30m)
	})
	g.Go(func() error {
		return s.pool.QueryRow(ctx, `SELECT coalesce(sum(total), 0)::int8, coalesce(sum(blocked), 0)::int8 FROM user_counts`).
			Scan(&st.TotalUsers, &st.BlockedUsers)
	})
	g.Go(func() error {
		return s.pool.QueryRow(ctx, `SELECT
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $1),
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $2),
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $3),
				d.logins, d.seconds::float8, p24.n, p7.n, pa.n, pa.seconds::float8
			FROM (SELECT coalesce(sum(logins), 0) AS logins, coalesce(sum(seconds), 0) AS seconds
			      FROM session_days WHERE day >= $4) d,
			     (SELECT count(*) AS n FROM sessions WHERE created_at >= $5 AND created_at < $2) p24,
			     (SELECT count(*) AS n FROM sessions WHERE created_at >= $6 AND created_at < $3) p7,
			     (SELECT count(*) AS n, coalesce(sum(extract(epoch FROM coalesce(ended_at, last_seen) - created_at)), 0) AS seconds
			      FROM sessions WHERE created_at >= $7 AND created_at < $4) pa`,
			today, nextDayStart(from24h), nextDayStart(from7d), nextDayStart(fromAvg), from24h, from7d, fromAvg).
			Scan(&st.LoginsToday, &days24h, &days7d, &daysCount, &daysSum, &partial24h, &partial7d, &partialCount, &partialSum)
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
	st.Logins24h, st.Logins7d = days24h+partial24h, days7d+partial7d
	if total := partialCount + daysCount; total > 0 {
		st.AvgSessionSeconds = (partialSum + daysSum) / float64(total)
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
