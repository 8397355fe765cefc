// Package testenv gives tests the real services of the machine: PostgreSQL
// (SM_TEST_POSTGRES_URL) and Redis (SM_TEST_REDIS_URL). When a variable is
// unset the test skips with a message, unless CI=true or
// SM_REQUIRE_SERVICES=1, where a missing service fails the test.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Required reports whether missing services are failures, not skips.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SM_REQUIRE_SERVICES") == "1"
}

func missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is not set, and services are required here (CI=true or SM_REQUIRE_SERVICES=1)", what)
	}
	t.Skipf("%s is not set: skipping (set it to run against the real service)", what)
}

// Name returns a short unique name with the prefix, for schemas and keys.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// PostgresURL returns the URL of the test server (no schema of its own).
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SM_TEST_POSTGRES_URL")
	if u == "" {
		missing(t, "SM_TEST_POSTGRES_URL")
	}
	return u
}

// PostgresSchema creates a fresh schema for this test and returns a URL whose
// search_path selects it; the schema is dropped when the test ends. Runs
// never collide.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	schema := Name("t_")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("SM_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL returns SM_TEST_REDIS_URL; use Name for a unique key prefix.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SM_TEST_REDIS_URL")
	if u == "" {
		missing(t, "SM_TEST_REDIS_URL")
	}
	return u
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
