package sqlite

import (
	"context"
	"fmt"
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

// Stats computes the dashboard's aggregates at now, all in SQL.
func (s *Store) Stats(ctx context.Context, now time.Time) (*sessionmanager.Stats, error) {
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	st := &sessionmanager.Stats{}
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM sessions WHERE status = 'active'),
		(SELECT count(*) FROM sessions WHERE status <> 'ended' AND last_seen_at >= ?),
		(SELECT count(*) FROM sessions WHERE status <> 'ended' AND last_seen_at >= ?),
		(SELECT count(*) FROM users),
		(SELECT count(*) FROM users WHERE blocked = 1),
		(SELECT count(*) FROM sessions WHERE created_at >= ?),
		(SELECT count(*) FROM sessions WHERE created_at >= ?),
		(SELECT count(*) FROM sessions WHERE created_at >= ?),
		(SELECT coalesce(avg((coalesce(ended_at, last_seen_at) - created_at) / 1e6), 0) FROM sessions WHERE created_at >= ?)`,
		now.Add(-15*time.Minute).UnixMicro(), now.Add(-30*time.Minute).UnixMicro(),
		midnight.UnixMicro(), now.Add(-24*time.Hour).UnixMicro(), now.Add(-7*24*time.Hour).UnixMicro(),
		now.Add(-statsAvgWindow).UnixMicro(),
	).Scan(&st.OnlineNow, &st.Active15m, &st.Active30m, &st.TotalUsers, &st.BlockedUsers,
		&st.LoginsToday, &st.Logins24h, &st.Logins7d, &st.AvgSessionSeconds)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stats: %w", err)
	}
	for _, g := range []struct {
		col string
		out *[]sessionmanager.Count
	}{
		{"country_code", &st.ByCountry}, {"device_type", &st.ByDevice}, {"browser", &st.ByBrowser}, {"os", &st.ByOS},
	} {
		if *g.out, err = s.liveCounts(ctx, g.col); err != nil {
			return nil, err
		}
	}
	if st.LoginsPerDay, err = s.loginsPerDay(ctx, midnight); err != nil {
		return nil, err
	}
	return st, nil
}

// liveCounts groups the sessions that are not ended by col, top first.
// col is one of the fixed column names of Stats, never input.
func (s *Store) liveCounts(ctx context.Context, col string) ([]sessionmanager.Count, error) {
	counts, err := queryAll(ctx, s.read, "stats by "+col, func(row rowScanner) (sessionmanager.Count, error) {
		var c sessionmanager.Count
		return c, row.Scan(&c.Key, &c.Count)
	}, `SELECT `+col+` AS k, count(*) AS n FROM sessions WHERE status <> 'ended'
		GROUP BY k ORDER BY n DESC, k LIMIT ?`, statsTopN)
	if counts == nil && err == nil {
		counts = []sessionmanager.Count{} // JSON [] rather than null
	}
	return counts, err
}

// loginsPerDay counts sessions created on each of the 14 UTC days ending
// with today's (which starts at midnight), oldest first, zeros included.
func (s *Store) loginsPerDay(ctx context.Context, midnight time.Time) ([]sessionmanager.Count, error) {
	first := midnight.AddDate(0, 0, -(statsDays - 1))
	start := first.UnixMicro()
	rows, err := s.read.QueryContext(ctx, `SELECT (created_at - ?) / ? AS day, count(*) FROM sessions
		WHERE created_at >= ? AND created_at < ? GROUP BY day`,
		start, microsPerDay, start, midnight.AddDate(0, 0, 1).UnixMicro())
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
