package sessionmanager_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// TestPurgeRunsEveryBatch: the nightly purge deletes every session ended
// before the retention, over more than two batches of sm.PurgeBatch, and
// none that ended later or is live; an admin's clean deletes the rest of
// the ended ones.
func TestPurgeRunsEveryBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		// Logins over the 30 days before now-25d: with the default 30-day
		// retention, five sixths of the ended sessions are due.
		g := sm.Synthetic{Sessions: 3500, Now: e.clock.Now().Add(-25 * 24 * time.Hour), Seed: 3}
		if err := sm.Generate(e.ctx, e.store, g); err != nil {
			t.Fatal(err)
		}
		cutoff := e.clock.Now().Add(-30 * 24 * time.Hour)
		due, ended := 0, 0
		for ses := range g.SessionSeq() {
			if ses.Status == sm.StatusEnded {
				ended++
				if ses.EndedAt.Before(cutoff) {
					due++
				}
			}
		}
		if due <= 2*sm.PurgeBatch || due == ended {
			t.Fatalf("the data has %d sessions due of %d ended: want more than two batches and some kept", due, ended)
		}
		n, err := e.m.Purge(e.ctx)
		if err != nil || n != due {
			t.Fatalf("purge = %d, %v; want %d", n, err, due)
		}
		i := 0
		for ses := range g.SessionSeq() {
			if i++; i%20 != 0 {
				continue // the store's conformance suite checks every row
			}
			_, err := e.store.SessionByID(e.ctx, ses.ID)
			if gone := sm.IsNotFound(err); gone != (ses.Status == sm.StatusEnded && ses.EndedAt.Before(cutoff)) {
				t.Fatalf("%s (%s, ended %v): gone=%v, err %v", ses.ID, ses.Status, ses.EndedAt, gone, err)
			}
		}
		if n, err := e.m.Purge(e.ctx); err != nil || n != 0 {
			t.Fatalf("second purge = %d, %v", n, err)
		}
		if n, err := e.m.CleanEndedSessions(e.ctx); err != nil || n != ended-due {
			t.Fatalf("clean = %d, %v; want %d", n, err, ended-due)
		}
	})
}

// TestPurgeGoesOnPastLockedRows (PostgreSQL): a batch that skips a due
// row another transaction holds (FOR UPDATE SKIP LOCKED: another
// instance's purge batch, which may yet roll back) comes back short; the
// purge goes on until a batch deletes none, so a row released in the
// meantime is deleted in this run (the first short batch used to end it).
// Two purges at once delete every due session between them.
func TestPurgeGoesOnPastLockedRows(t *testing.T) {
	e := newEnv(t, storeKinds[1])
	g := sm.Synthetic{Sessions: 3500, Now: e.clock.Now().Add(-25 * 24 * time.Hour), Seed: 3}
	if err := sm.Generate(e.ctx, e.store, g); err != nil {
		t.Fatal(err)
	}
	cutoff := e.clock.Now().Add(-30 * 24 * time.Hour)
	due := 0
	for ses := range g.SessionSeq() {
		if ses.Status == sm.StatusEnded && ses.EndedAt.Before(cutoff) {
			due++
		}
	}
	if due <= 2*sm.PurgeBatch || due%sm.PurgeBatch == 0 {
		t.Fatalf("%d sessions due: want more than two batches, the last one short", due)
	}
	pool := e.store.(*postgres.Store).Pool()
	tx, err := pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if tx != nil {
			_ = tx.Rollback(context.Background())
		}
	}()
	var held string
	if err := tx.QueryRow(e.ctx, `SELECT id FROM sessions WHERE status = 'ended' AND ended_at < $1
		ORDER BY ended_at LIMIT 1 FOR UPDATE`, cutoff).Scan(&held); err != nil {
		t.Fatal(err)
	}
	// A Manager whose batches take a millisecond of its clock, so that it
	// pauses after each one until the test moves the clock on.
	paced := &pacedStore{Store: e.store, clock: e.clock}
	m := startManager(t, sm.Config{Store: paced, Tokens: e.keys, Secrets: e.secrets, Passwords: cheapPasswords,
		UserAgents: device.New(), Clock: e.clock, InstanceID: "paced"}, nil)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := m.Purge(e.ctx)
		done <- result{n, err}
	}()
	var r result
	for finished := false; !finished; {
		testenv.Eventually(t, "the purge to pause or end", func() bool {
			select {
			case r = <-done:
				finished = true
				return true
			default:
				return e.clock.Sleepers() == 1
			}
		})
		if !finished {
			if paced.last.Load() < sm.PurgeBatch && tx != nil {
				// The short batch skipped the held row: the holder rolls back.
				if err := tx.Rollback(e.ctx); err != nil {
					t.Fatal(err)
				}
				tx = nil
			}
			e.clock.Advance(time.Millisecond)
		}
	}
	if r.err != nil || r.n != due {
		t.Fatalf("purge = %d, %v; want all %d (the held row too, released after the short batch)", r.n, r.err, due)
	}
	if _, err := e.store.SessionByID(e.ctx, held); !sm.IsNotFound(err) {
		t.Fatalf("the held session after the purge: %v", err)
	}

	// Two instances' purges at once.
	e = newEnv(t, storeKinds[1])
	if err := sm.Generate(e.ctx, e.store, g); err != nil {
		t.Fatal(err)
	}
	other := startManager(t, sm.Config{Store: e.store, Tokens: e.keys, Secrets: e.secrets, Passwords: cheapPasswords,
		UserAgents: device.New(), Clock: e.clock, InstanceID: "other"}, nil)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, m := range []*sm.Manager{e.m, other} {
		wg.Go(func() {
			n, err := m.Purge(e.ctx)
			if err != nil {
				t.Errorf("purge %d: %v", i, err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != due {
		t.Fatalf("two purges deleted %d + %d, want %d between them", counts[0], counts[1], due)
	}
	var left int
	if err := e.store.(*postgres.Store).Pool().QueryRow(e.ctx, `SELECT count(*) FROM sessions WHERE status = 'ended' AND ended_at < $1`, cutoff).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d due sessions left after two purges", left)
	}
}

// pacedStore moves the manual clock on by a millisecond in every
// PurgeEnded of the real store, and keeps the batch's count.
type pacedStore struct {
	storetest.Store
	clock *sm.ManualClock
	last  atomic.Int64
}

func (p *pacedStore) PurgeEnded(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := p.Store.PurgeEnded(ctx, before, limit)
	p.last.Store(int64(n))
	p.clock.Advance(time.Millisecond)
	return n, err
}
