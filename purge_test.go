package sessionmanager_test

import (
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
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
