package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// Two instances starting together on an empty schema both open, and each
// migration is applied exactly once.
func TestOpenConcurrentMigratesOnce(t *testing.T) {
	url := testenv.PostgresSchema(t)
	ctx := context.Background()
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var rows, distinct int
	err := stores[0].Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows != distinct {
		t.Fatalf("schema_migrations has %d rows for %d versions", rows, distinct)
	}
	// A later start applies nothing and still works.
	again, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	var after int
	_ = again.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&after)
	if after != rows {
		t.Fatalf("reopen changed schema_migrations: %d -> %d", rows, after)
	}
}

// Of N concurrent rotations of one refresh token exactly one wins.
func TestRotateRefreshConcurrent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	u := mkUser(t, s, "ann")
	mkSession(t, s, "s1", u.ID, t0, nil)
	const n = 16
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.RotateRefreshToken(ctx, sm.RotateRefresh{SessionID: "s1", OldHash: []byte("rt-s1"),
				NewHash: fmt.Appendf(nil, "new-%d", i), NewSealed: []byte("sealed"), At: t0.Add(time.Second)})
			switch code(err) {
			case "":
				wins.Add(1)
			case sm.ECONFLICT:
				conflicts.Add(1)
			default:
				t.Errorf("rotate %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
	old, err := s.RefreshTokenByHash(ctx, []byte("rt-s1"))
	if err != nil || !old.ReplacedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("old token %+v, %v: want replaced", old, err)
	}
	ses, _ := s.SessionByID(ctx, "s1")
	if !bytes.Equal(ses.RefreshSealed, []byte("sealed")) || !ses.RefreshRotatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("session refresh state not updated: %q %v", ses.RefreshSealed, ses.RefreshRotatedAt)
	}
	// A rotation of an ended session loses, even with the current token.
	var current []byte
	_ = s.Pool().QueryRow(ctx, `SELECT hash FROM refresh_tokens WHERE replaced_at IS NULL`).Scan(&current)
	if _, err := s.EndSession(ctx, "s1", sm.EndLogout, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	err = s.RotateRefreshToken(ctx, sm.RotateRefresh{SessionID: "s1", OldHash: current, NewHash: []byte("x"), At: t0.Add(3 * time.Second)})
	if code(err) != sm.ECONFLICT {
		t.Fatalf("rotate on ended session: %v, want conflict", err)
	}
}

// Concurrent appends get gapless sequence numbers and form one valid chain;
// Data and Personal come back byte for byte.
func TestAppendEventChainConcurrent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &sm.Event{At: t0.Add(time.Duration(i) * time.Millisecond), Type: sm.EventLoginSucceeded, ActorType: sm.ActorUser,
				UserID: "u1", Data: json.RawMessage(fmt.Sprintf(`{"z": 1,  "a":[%d]}`, i)), IP: "198.51.100.1",
				Personal: json.RawMessage(`{"b":2,"a":1}`)}
			d := &sm.Delivery{RuleID: "r", Channel: "webhook", Payload: json.RawMessage(`{"k":"v"}`)}
			if err := s.AppendEvent(ctx, e, []*sm.Delivery{d}); err != nil {
				t.Errorf("append: %v", err)
				return
			}
			if d.EventSeq != e.Seq || d.ID == 0 || d.Status != sm.DeliveryPending || !d.NextAttemptAt.Equal(e.At) {
				t.Errorf("delivery not filled: %+v (event %d)", d, e.Seq)
			}
		})
	}
	wg.Wait()
	events, next, err := s.ListEvents(ctx, sm.EventFilter{Limit: 500})
	if err != nil || next != "" || len(events) != n {
		t.Fatalf("list: %d events, next %q, %v", len(events), next, err)
	}
	var prev []byte
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, e.ChainHash(prev)) ||
			!bytes.Equal(e.PersonalDigest, e.PersonalDigestOf()) {
			t.Fatalf("chain broken at seq %d", e.Seq)
		}
		if !bytes.HasPrefix(e.Data, []byte(`{"z": 1,  "a":[`)) || string(e.Personal) != `{"b":2,"a":1}` {
			t.Fatalf("json not byte-exact: %s %s", e.Data, e.Personal)
		}
		prev = e.Hash
	}
	depth, _ := s.OutboxDepth(ctx)
	if depth != n {
		t.Fatalf("outbox depth %d, want %d", depth, n)
	}
}

// Concurrent workers never claim the same delivery.
func TestClaimDeliveriesConcurrent(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const n = 60
	for i := range n {
		e := &sm.Event{At: t0, Type: sm.EventLoginFailed, ActorType: sm.ActorSystem}
		if err := s.AppendEvent(ctx, e, []*sm.Delivery{{Channel: "email"}}); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				ds, err := s.ClaimDeliveries(ctx, t0, 7, time.Minute)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
					if !d.NextAttemptAt.Equal(t0.Add(time.Minute)) {
						t.Errorf("lease not set: %v", d.NextAttemptAt)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("delivery %d claimed %d times", id, c)
		}
	}
	// After the lease the deliveries are due again.
	again, err := s.ClaimDeliveries(ctx, t0.Add(time.Minute), 500, time.Minute)
	if err != nil || len(again) != n {
		t.Fatalf("reclaim after lease: %d, %v", len(again), err)
	}
}

// Of concurrent consumers of one magic link exactly one succeeds; the
// others learn it was used.
func TestConsumeMagicLink(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	l := &sm.MagicLink{Hash: []byte("h1"), Email: "a@example.com", CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
	if err := s.CreateMagicLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMagicLink(ctx, &sm.MagicLink{Hash: []byte("h2"), Email: "b@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			got, err := s.ConsumeMagicLink(ctx, []byte("h1"), t0.Add(time.Minute))
			if err == nil {
				wins.Add(1)
				if got.Email != "a@example.com" || !got.UsedAt.Equal(t0.Add(time.Minute)) {
					t.Errorf("consumed link %+v", got)
				}
				return
			}
			if reason(err) != "link_used" {
				t.Errorf("loser got %v, want link_used", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d consumers won, want 1", wins.Load())
	}
	for _, tc := range []struct {
		hash, want string
		at         time.Time
	}{{"h2", "link_expired", t0.Add(time.Minute)}, {"nope", "link_unknown", t0}} {
		_, err := s.ConsumeMagicLink(ctx, []byte(tc.hash), tc.at)
		if code(err) != sm.EINVALID || reason(err) != tc.want {
			t.Errorf("consume %s: %v, want %s", tc.hash, err, tc.want)
		}
	}
}

// reason is the Reason of a domain error.
func reason(err error) string {
	if e, ok := err.(*sm.Error); ok {
		return e.Reason
	}
	return ""
}

// Batches of touches that share sessions in different orders, from several
// writers at once, never fail (no deadlock), keep the latest time and keep
// the Stats counters exact.
func TestTouchConcurrentOverlapping(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	u := mkUser(t, s, "ann")
	const n = 60
	for i := range n {
		mkSession(t, s, sid(i), u.ID, t0, nil)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := range 15 {
				notes := make([]sm.LastSeen, 0, n)
				for i := range n {
					j := i
					if (w+round)%2 == 1 {
						j = n - 1 - i // the other order
					}
					notes = append(notes, sm.LastSeen{SessionID: sid(j), At: t0.Add(time.Duration(round*10+w) * time.Second)})
				}
				if err := s.TouchSessions(ctx, notes); err != nil {
					t.Errorf("touch: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := t0.Add(time.Duration(14*10+3) * time.Second)
	for i := range n {
		got, err := s.SessionByID(ctx, sid(i))
		if err != nil || !got.LastSeenAt.Equal(want) {
			t.Fatalf("%s last seen %v, want %v (%v)", sid(i), got.LastSeenAt, want, err)
		}
	}
	// A touch that waited for another's row lock moved the rollup by the
	// row version it really replaced: the counters equal a full scan.
	compareStats(t, s, "overlapping touches", want, true)
	compareLive(t, s, "overlapping touches", want)
}
