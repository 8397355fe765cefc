package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"

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

// TestAppendGroupFailsOnlyItsEvent: concurrent appends share one
// transaction (group commit); an event the database refuses fails its own
// caller only, and the others are committed in one gapless chain. The chain
// head is held locked while the appends queue up, so that they do form a
// group.
func TestAppendGroupFailsOnlyItsEvent(t *testing.T) {
	url := testenv.PostgresSchema(t)
	s, _ := openWithSQL(t, url)
	ctx := t.Context()
	if err := s.AppendEvent(ctx, &sm.Event{Type: sm.EventAdminAction, At: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	lock, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(context.Background())
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM event_chain WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	const n, bad = 16, 7
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &sm.Event{Type: sm.EventAdminAction, At: time.Now(), ActorID: fmt.Sprint("a", i)}
			if i == bad {
				e.IP = "203.0.113.1\x00" // PostgreSQL text cannot hold NUL
			}
			errs[i] = s.AppendEvent(ctx, e, nil)
		})
	}
	time.Sleep(300 * time.Millisecond) // let them queue behind the lock
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == bad) {
			t.Errorf("append %d: err = %v, want an error only for %d", i, err, bad)
		}
	}
	events, _, err := s.ListEvents(ctx, sm.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("%d events stored, want %d (the first and %d of %d)", len(events), n, n-1, n)
	}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the chain has a gap", i, e.Seq)
		}
		if i > 0 && !bytes.Equal(e.PrevHash, events[i-1].Hash) {
			t.Fatalf("event %d does not link to the one before it", e.Seq)
		}
	}
}
