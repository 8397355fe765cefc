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

// Stats computes the dashboard aggregates at now, all in SQL, with four
// queries run concurrently on separate connections, none of which reads
// every session:
//   - live sessions, once (the partial live index): presence counts, the
//     top countries, devices, browsers and OSes, and the live part of the
//     average session length;
//   - users;
//   - logins and ended sessions per whole day from the session_days rollup
//     (kept by triggers), plus the partial first day of each sliding window
//     from the sessions-by-created_at index;
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
		liveCount, partialCount, endedCount int64
		liveSum, partialSum, endedSum       float64
		partial24h, partial7d               int64
		days24h, days7d                     int64
	)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return s.liveStats(ctx, st, now, nextDayStart(fromAvg), &liveCount, &liveSum)
	})
	g.Go(func() error {
		return s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE blocked) FROM users`).
			Scan(&st.TotalUsers, &st.BlockedUsers)
	})
	g.Go(func() error {
		return s.pool.QueryRow(ctx, `SELECT
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $1),
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $2),
				(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= $3),
				d.ended, d.seconds::float8, p24.n, p7.n, pa.n, pa.seconds::float8
			FROM (SELECT coalesce(sum(ended), 0) AS ended, coalesce(sum(ended_seconds), 0) AS seconds
			      FROM session_days WHERE day >= $4) d,
			     (SELECT count(*) AS n FROM sessions WHERE created_at >= $5 AND created_at < $2) p24,
			     (SELECT count(*) AS n FROM sessions WHERE created_at >= $6 AND created_at < $3) p7,
			     (SELECT count(*) AS n, coalesce(sum(extract(epoch FROM coalesce(ended_at, last_seen) - created_at)), 0) AS seconds
			      FROM sessions WHERE created_at >= $7 AND created_at < $4) pa`,
			today, nextDayStart(from24h), nextDayStart(from7d), nextDayStart(fromAvg), from24h, from7d, fromAvg).
			Scan(&st.LoginsToday, &days24h, &days7d, &endedCount, &endedSum, &partial24h, &partial7d, &partialCount, &partialSum)
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
	if err := g.Wait(); err != nil {
		return nil, mapErr(err, "stats")
	}
	st.Logins24h, st.Logins7d = days24h+partial24h, days7d+partial7d
	if total := liveCount + partialCount + endedCount; total > 0 {
		st.AvgSessionSeconds = (liveSum + partialSum + endedSum) / float64(total)
	}
	return st, nil
}

// liveStats reads the live sessions once (the partial live index), grouped
// by country, device type, browser and OS: the few resulting rows give the
// per-dimension top buckets (grouping sets) and the presence totals. It also
// sums the live part of the average session length: sessions created since
// avgFrom.
func (s *Store) liveStats(ctx context.Context, st *sm.Stats, now, avgFrom time.Time, count *int64, seconds *float64) error {
	// In a grouping set the other dimensions' columns are NULL, so
	// coalesce picks the grouped one (the columns are NOT NULL). Dimension
	// 4 is the one row of totals.
	rows, err := s.pool.Query(ctx, `WITH live AS (
			SELECT country_code, device_type, browser, os, count(*) AS n,
				count(*) FILTER (WHERE status = 'active') AS online,
				count(*) FILTER (WHERE last_seen >= $1) AS seen15m,
				count(*) FILTER (WHERE last_seen >= $2) AS seen30m,
				count(*) FILTER (WHERE created_at >= $3) AS recent,
				sum(extract(epoch FROM coalesce(ended_at, last_seen) - created_at)) FILTER (WHERE created_at >= $3) AS recent_seconds
			FROM sessions WHERE status <> 'ended'
			GROUP BY country_code, device_type, browser, os)
		SELECT dim, key, n, 0::int8, 0::int8, 0::int8, 0::int8, 0::float8 FROM (
			SELECT dim, key, n, row_number() OVER (PARTITION BY dim ORDER BY n DESC, key) AS rank FROM (
				SELECT CASE WHEN GROUPING(country_code) = 0 THEN 0 WHEN GROUPING(device_type) = 0 THEN 1
				            WHEN GROUPING(browser) = 0 THEN 2 ELSE 3 END AS dim,
				       coalesce(country_code, device_type, browser, os) AS key, sum(n)::int8 AS n
				FROM live GROUP BY GROUPING SETS ((country_code), (device_type), (browser), (os))) grouped) ranked
		WHERE rank <= $4
		UNION ALL
		SELECT 4, '', coalesce(sum(n), 0)::int8, coalesce(sum(online), 0)::int8, coalesce(sum(seen15m), 0)::int8,
			coalesce(sum(seen30m), 0)::int8, coalesce(sum(recent), 0)::int8, coalesce(sum(recent_seconds), 0)::float8
		FROM live
		ORDER BY 1, 3 DESC, 2`, now.Add(-15*time.Minute), now.Add(-30*time.Minute), avgFrom, topBuckets)
	if err != nil {
		return err
	}
	dims := []*[]sm.Count{&st.ByCountry, &st.ByDevice, &st.ByBrowser, &st.ByOS}
	var (
		dim     int
		c       sm.Count
		online  int64
		seen15m int64
		seen30m int64
		recent  int64
		sum     float64
	)
	_, err = pgx.ForEachRow(rows, []any{&dim, &c.Key, &c.Count, &online, &seen15m, &seen30m, &recent, &sum}, func() error {
		if dim < len(dims) {
			*dims[dim] = append(*dims[dim], c)
			return nil
		}
		st.OnlineNow, st.Active15m, st.Active30m, *count, *seconds = online, seen15m, seen30m, recent, sum
		return nil
	})
	return err
}
