package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// Windows of the dashboard's aggregates.
const (
	statsTopN      = 20
	statsDays      = 14
	statsAvgWindow = 30 * 24 * time.Hour
	microsPerDay   = int64(24 * time.Hour / time.Microsecond)
)

// Stats computes the dashboard's aggregates at now, all in SQL, without
// reading every session or every live session: the per-dimension buckets
// and the online total come from session_live, users from user_counts,
// logins and session lengths of whole days from session_days (all kept by
// triggers, migration 0002), the partial first day of each sliding window
// from the sessions-by-created_at index, and the presence counts from the
// live sessions of the last half hour: two ranges of the (status,
// last_seen_at) index, read alone (live is active or inactive).
func (s *Store) Stats(ctx context.Context, now time.Time) (*sessionmanager.Stats, error) {
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	st := &sessionmanager.Stats{}
	// A sliding window from t is the sessions of [t, next midnight) plus
	// whole days of the rollup from there on.
	window := func(t time.Time) (from, firstDay int64) {
		from = t.UnixMicro()
		firstDay = (from + microsPerDay - 1) / microsPerDay
		return from, firstDay
	}
	from24h, day24h := window(now.Add(-24 * time.Hour))
	from7d, day7d := window(now.Add(-7 * 24 * time.Hour))
	fromAvg, dayAvg := window(now.Add(-statsAvgWindow))
	var avgCount, avgMicros int64
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(online), 0) FROM session_live WHERE dim = 0),
		(SELECT count(*) FROM sessions WHERE status IN ('active', 'inactive') AND last_seen_at >= ?),
		(SELECT count(*) FROM sessions WHERE status IN ('active', 'inactive') AND last_seen_at >= ?),
		(SELECT total FROM user_counts), (SELECT blocked FROM user_counts),
		(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= ?),
		(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= ?)
			+ (SELECT count(*) FROM sessions WHERE created_at >= ? AND created_at < ?),
		(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= ?)
			+ (SELECT count(*) FROM sessions WHERE created_at >= ? AND created_at < ?),
		(SELECT coalesce(sum(logins), 0) FROM session_days WHERE day >= ?)
			+ (SELECT count(*) FROM sessions WHERE created_at >= ? AND created_at < ?),
		(SELECT coalesce(sum(micros), 0) FROM session_days WHERE day >= ?)
			+ (SELECT coalesce(sum(coalesce(ended_at, last_seen_at) - created_at), 0) FROM sessions
			   WHERE created_at >= ? AND created_at < ?)`,
		now.Add(-15*time.Minute).UnixMicro(), now.Add(-30*time.Minute).UnixMicro(),
		midnight.UnixMicro()/microsPerDay,
		day24h, from24h, day24h*microsPerDay,
		day7d, from7d, day7d*microsPerDay,
		dayAvg, fromAvg, dayAvg*microsPerDay,
		dayAvg, fromAvg, dayAvg*microsPerDay,
	).Scan(&st.OnlineNow, &st.Active15m, &st.Active30m, &st.TotalUsers, &st.BlockedUsers,
		&st.LoginsToday, &st.Logins24h, &st.Logins7d, &avgCount, &avgMicros)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stats: %w", err)
	}
	if avgCount > 0 {
		st.AvgSessionSeconds = float64(avgMicros) / 1e6 / float64(avgCount)
	}
	for dim, out := range []*[]sessionmanager.Count{&st.ByCountry, &st.ByDevice, &st.ByBrowser, &st.ByOS} {
		if *out, err = s.liveCounts(ctx, dim); err != nil {
			return nil, err
		}
	}
	if st.LoginsPerDay, err = s.loginsPerDay(ctx, midnight); err != nil {
		return nil, err
	}
	if st.Challenges24h, err = s.challengeCounts(ctx, now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	return st, nil
}

// challengeCounts counts the challenge and report events since from, by
// type (a range of the events-by-time index).
func (s *Store) challengeCounts(ctx context.Context, from time.Time) ([]sessionmanager.Count, error) {
	types := sessionmanager.StatsChallengeTypes
	args := []any{from.UnixMicro()}
	marks := make([]string, len(types))
	for i, t := range types {
		marks[i], args = "?", append(args, t)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT type, count(*) FROM events WHERE at >= ? AND type IN (`+strings.Join(marks, ", ")+`) GROUP BY type`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: challenge counts: %w", err)
	}
	defer rows.Close()
	found := map[string]int64{}
	for rows.Next() {
		var typ string
		var n int64
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, fmt.Errorf("sqlite: challenge counts: %w", err)
		}
		found[typ] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: challenge counts: %w", err)
	}
	return sessionmanager.ChallengeCounts(found), nil
}

// liveCounts reads the top buckets of one dimension of session_live.
func (s *Store) liveCounts(ctx context.Context, dim int) ([]sessionmanager.Count, error) {
	counts, err := queryAll(ctx, s.read, "stats by dimension", func(row rowScanner) (sessionmanager.Count, error) {
		var c sessionmanager.Count
		return c, row.Scan(&c.Key, &c.Count)
	}, `SELECT key, live FROM session_live WHERE dim = ? AND live > 0 ORDER BY live DESC, key LIMIT ?`, dim, statsTopN)
	if counts == nil && err == nil {
		counts = []sessionmanager.Count{} // JSON [] rather than null
	}
	return counts, err
}

// loginsPerDay counts sessions created on each of the 14 UTC days ending
// with today's (which starts at midnight), oldest first, zeros included,
// from the session_days rollup.
func (s *Store) loginsPerDay(ctx context.Context, midnight time.Time) ([]sessionmanager.Count, error) {
	first := midnight.AddDate(0, 0, -(statsDays - 1))
	start := first.UnixMicro() / microsPerDay
	rows, err := s.read.QueryContext(ctx, `SELECT day - ?, logins FROM session_days WHERE day >= ? AND day < ?`,
		start, start, start+statsDays)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logins per day: %w", err)
	}
	defer rows.Close()
	days := make([]sessionmanager.Count, statsDays)
	for i := range days {
		days[i].Key = first.AddDate(0, 0, i).Format(time.DateOnly)
	}
	for rows.Next() {
		var day, n int64
		if err := rows.Scan(&day, &n); err != nil {
			return nil, err
		}
		if day >= 0 && day < statsDays {
			days[day].Count = n
		}
	}
	return days, rows.Err()
}

// OnlineNow sums the active sessions of session_live (dimension 0: every
// live session has one country value). It implements
// sessionmanager.StatsStore.
func (s *Store) OnlineNow(ctx context.Context) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(sum(online), 0) FROM session_live WHERE dim = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: online sessions: %w", err)
	}
	return n, nil
}
