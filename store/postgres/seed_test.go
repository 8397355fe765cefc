package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// seedSessions bulk-loads n sessions of n/10+1 users with COPY: logins spread
// over the 30 days before now, a fifth of them live, with a spread of
// countries, devices and addresses. It returns the ids of the users.
func seedSessions(tb testing.TB, s *postgres.Store, n int, now time.Time) []string {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	users := make([]string, n/10+1)
	userRows := make([][]any, len(users))
	for i := range users {
		users[i] = fmt.Sprintf("user-%07d", i)
		at := now.Add(-time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
		userRows[i] = []any{users[i], fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("user%d", i), at, at, i%50 == 0}
	}
	if _, err := s.Pool().CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "email", "username", "created_at", "updated_at", "blocked"}, pgx.CopyFromRows(userRows)); err != nil {
		tb.Fatalf("copy users: %v", err)
	}
	countries := []string{"DE", "US", "FR", "GB", "BR", "IN", "JP", "NL", "", "PL", "ES", "IT", "CA", "AU", "SE"}
	devices := []struct{ typ, browser, os string }{
		{"desktop", "Chrome", "Windows"}, {"desktop", "Firefox", "Linux"}, {"mobile", "Safari", "iOS"},
		{"mobile", "Chrome", "Android"}, {"tablet", "Safari", "iPadOS"}, {"desktop", "Edge", "Windows"},
	}
	src := pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		created := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Microsecond)
		lastSeen := created.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
		status, reason, ended := "ended", "logout", any(lastSeen)
		switch r := rng.IntN(10); {
		case r < 1:
			status, reason, ended, lastSeen = "active", "", nil, now.Add(-time.Duration(rng.Int64N(int64(20*time.Minute))))
		case r < 2:
			status, reason, ended = "inactive", "", nil
		}
		if lastSeen.After(now) {
			lastSeen = now
		}
		ip := netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		c := countries[rng.IntN(len(countries))]
		d := devices[rng.IntN(len(devices))]
		return []any{fmt.Sprintf("ses-%08d", i), users[rng.IntN(len(users))], status, reason, "password",
			created, lastSeen, ended, created.Add(30 * 24 * time.Hour), ip.String(), ip, "Mozilla/5.0",
			d.typ, d.browser, d.os, c, "City" + c, fmt.Sprintf(`{"countryCode":%q}`, c), rng.IntN(10) == 0, rng.IntN(101)}, nil
	})
	_, err := s.Pool().CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"id", "user_id", "status", "end_reason", "auth_method",
		"created_at", "last_seen", "ended_at", "expires_at", "ip", "ip_net", "user_agent",
		"device_type", "browser", "os", "country_code", "city", "location", "threat_vpn", "score"}, src)
	if err != nil {
		tb.Fatalf("copy sessions: %v", err)
	}
	// Fresh statistics and visibility map, as autovacuum keeps them in production.
	if _, err := s.Pool().Exec(ctx, "VACUUM ANALYZE users, sessions"); err != nil {
		tb.Fatalf("vacuum: %v", err)
	}
	return users
}
