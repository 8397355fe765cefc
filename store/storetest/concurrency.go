package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// The concurrency cases prove that atomicity lives in the store's SQL:
// many goroutines race, and the store alone must keep the invariant.
var concurrencyTests = []namedTest{
	{"RotateOneTokenExactlyOneWins", testConcurrentRotate},
	{"TouchNoLostUpdate", testConcurrentTouch},
	{"ConsumeMagicLinkExactlyOnce", testConcurrentMagicLink},
	{"ClaimDeliveriesNoDoubleClaim", testConcurrentClaim},
	{"AppendEventChainStaysLinear", testConcurrentAppend},
}

// racers is how many goroutines race in each case.
const racers = 20

// race runs fn(i) on racers goroutines released together and returns the
// errors by index.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrentRotate(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	errs := race(func(i int) error {
		return s.RotateRefreshToken(ctx, sessionmanager.RotateRefresh{
			SessionID: "s-1", OldHash: hashOf("s-1/r0"), NewHash: hashOf(fmt.Sprint("new-", i)),
			NewSealed: []byte(fmt.Sprint("sealed-", i)), At: t0.Add(time.Minute),
		})
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			check(t, winner == -1, "two rotations won: %d and %d", winner, i)
			winner = i
			continue
		}
		requireCode(t, err, sessionmanager.ECONFLICT, "loser %d", i)
	}
	check(t, winner >= 0, "no rotation won")
	for i := range racers {
		_, err := s.RefreshTokenByHash(ctx, hashOf(fmt.Sprint("new-", i)))
		if i == winner {
			noErr(t, err, "the winner's token is stored")
		} else {
			requireCode(t, err, sessionmanager.ENOTFOUND, "loser %d's token is not stored", i)
		}
	}
	equal(t, []byte(fmt.Sprint("sealed-", winner)), getSession(t, s, "s-1").RefreshSealed, "the winner's sealed copy")
}

func testConcurrentTouch(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1", func(x *sessionmanager.Session) { x.Status = sessionmanager.StatusInactive })
	newSession(t, s, "s-2", "u-1")
	offsets := rand.Perm(racers)
	errs := race(func(i int) error {
		at := t0.Add(time.Duration(offsets[i]+1) * time.Second)
		// Each batch also touches another session, so batches overlap.
		return s.TouchSessions(ctx, []sessionmanager.LastSeen{{SessionID: "s-2", At: at}, {SessionID: "s-1", At: at}})
	})
	for i, err := range errs {
		noErr(t, err, "touch %d", i)
	}
	for _, id := range []string{"s-1", "s-2"} {
		got := getSession(t, s, id)
		equal(t, t0.Add(racers*time.Second), got.LastSeenAt, "%s: last seen is the max of all touches", id)
		equal(t, sessionmanager.StatusActive, got.Status, "%s is active", id)
	}
}

func testConcurrentMagicLink(t *testing.T, s Store) {
	ctx := t.Context()
	link := &sessionmanager.MagicLink{Hash: hashOf("link"), Email: "alice@example.com", IP: "203.0.113.5",
		CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
	noErr(t, s.CreateMagicLink(ctx, link))
	var (
		mu   sync.Mutex
		wins []*sessionmanager.MagicLink
	)
	errs := race(func(i int) error {
		l, err := s.ConsumeMagicLink(ctx, hashOf("link"), t0.Add(time.Minute))
		if err == nil {
			mu.Lock()
			wins = append(wins, l)
			mu.Unlock()
		}
		return err
	})
	check(t, len(wins) == 1, "%d consumers won, want exactly 1", len(wins))
	for i, err := range errs {
		if err != nil {
			requireLinkReason(t, err, "link_used", "loser %d", i)
		}
	}
	equal(t, "alice@example.com", wins[0].Email)
}

func testConcurrentClaim(t *testing.T, s Store) {
	ctx := t.Context()
	const total = 60
	for i := range total / 3 {
		ds := []*sessionmanager.Delivery{
			{RuleID: "r", Channel: "email", IdempotencyKey: fmt.Sprint(i, "-a")},
			{RuleID: "r", Channel: "slack", IdempotencyKey: fmt.Sprint(i, "-b")},
			{RuleID: "r", Channel: "webhook", IdempotencyKey: fmt.Sprint(i, "-c")},
		}
		noErr(t, s.AppendEvent(ctx, &sessionmanager.Event{At: t0.Add(time.Duration(i) * time.Second), Type: sessionmanager.EventLoginSucceeded, ActorType: sessionmanager.ActorSystem}, ds))
	}
	now := t0.Add(time.Hour)
	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		wg      sync.WaitGroup
		errs    = make([]error, 2)
	)
	for w := range 2 {
		wg.Go(func() {
			// Bounded, so a store that never leases fails instead of hanging.
			for range total {
				ds, err := s.ClaimDeliveries(ctx, now, 4, time.Minute)
				if err != nil {
					errs[w] = err
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		noErr(t, err, "worker %d", w)
	}
	equal(t, total, len(claimed), "every delivery claimed")
	for id, n := range claimed {
		check(t, n == 1, "delivery %d claimed %d times", id, n)
	}
}

func testConcurrentAppend(t *testing.T, s Store) {
	ctx := t.Context()
	errs := race(func(i int) error {
		e := eventFixture(i)
		return s.AppendEvent(ctx, e, []*sessionmanager.Delivery{{RuleID: "r", Channel: "email", IdempotencyKey: fmt.Sprint("k", i)}})
	})
	for i, err := range errs {
		noErr(t, err, "append %d", i)
	}
	evs := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	equal(t, racers, len(evs), "every append is in the log")
	verifyChain(t, evs) // no two events share a seq or a previous hash
	ds, _, err := s.ListDeliveries(ctx, sessionmanager.DeliveryFilter{Limit: 500})
	noErr(t, err)
	equal(t, racers, len(ds), "every delivery is in the outbox")
	for _, d := range ds {
		check(t, d.EventSeq >= 1 && d.EventSeq <= racers, "delivery %d points at event %d", d.ID, d.EventSeq)
	}
}
