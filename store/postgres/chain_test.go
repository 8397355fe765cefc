package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// TestChainConformance runs the signed-chain attacks, the SQL through a
// connection of its own to the test's schema.
func TestChainConformance(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) (storetest.Store, storetest.RawSQL) {
		return openWithSQL(t, testenv.PostgresSchema(t))
	})
}

// TestChainUpgrade: a database from before migration 0006 gets a head.
func TestChainUpgrade(t *testing.T) {
	url := testenv.PostgresSchema(t)
	s, exec := openWithSQL(t, url)
	storetest.UpgradeChain(t, s, exec, []string{
		`DROP INDEX events_unattributed_idx`, `DROP TABLE event_checkpoints`,
		`ALTER TABLE event_chain DROP COLUMN since, DROP COLUMN sig, DROP COLUMN at, DROP COLUMN checkpoint_at`,
		`DELETE FROM schema_migrations WHERE version = 6`,
	}, func(t *testing.T) storetest.Store {
		s, _ := openWithSQL(t, url)
		return s
	})
}

// openWithSQL opens the store on the schema of url and a connection of its
// own to it.
func openWithSQL(t *testing.T, url string) (storetest.Store, storetest.RawSQL) {
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return s, func(t *testing.T, query string, args ...any) {
		t.Helper()
		var b strings.Builder
		n := 0
		for _, r := range query {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		if _, err := conn.Exec(t.Context(), b.String(), args...); err != nil {
			t.Fatalf("postgres %s: %v", query, err)
		}
	}
}

// BenchmarkAppendEvent: the cost of signing the chain's head per append.
func BenchmarkAppendEvent(b *testing.B) {
	storetest.BenchAppend(b, func(b *testing.B) storetest.Store { return openStore(b) })
}
