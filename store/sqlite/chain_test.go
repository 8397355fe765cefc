package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// TestChainConformance runs the signed-chain attacks, the SQL through a
// second connection to the database file.
func TestChainConformance(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) (storetest.Store, storetest.RawSQL) {
		return openWithSQL(t, filepath.Join(t.TempDir(), "sm.db"))
	})
}

// openWithSQL opens the store at path and a second connection to its file.
func openWithSQL(t *testing.T, path string) (storetest.Store, storetest.RawSQL) {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return s, func(t *testing.T, query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatalf("sqlite %s: %v", query, err)
		}
	}
}

// BenchmarkAppendEvent: the cost of signing the chain's head per append.
func BenchmarkAppendEvent(b *testing.B) {
	storetest.BenchAppend(b, func(b *testing.B) storetest.Store { return openTemp(b) })
}

// TestChainUpgrade: a database from before migration 0006 gets a head.
func TestChainUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sm.db")
	s, exec := openWithSQL(t, path)
	storetest.UpgradeChain(t, s, exec, []string{
		`DROP INDEX events_unattributed`, `DROP TABLE event_checkpoints`, `DROP TABLE event_chain`,
		`DELETE FROM schema_migrations WHERE version = 6`,
	}, func(t *testing.T) storetest.Store {
		s, _ := openWithSQL(t, path)
		return s
	})
}
