package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// electorCase is one Elector implementation under test, with a way to kill
// a lease's holder the hard way (no release).
type electorCase struct {
	name string
	// newElectors returns n electors that share one backend, as n
	// instances would.
	newElectors func(t *testing.T, n int) []Elector
	// kill makes the holder of lease die without releasing it.
	kill func(t *testing.T, lease Lease)
	// steal takes the lease away while its holder still runs.
	steal func(t *testing.T, lease Lease)
	ttl   time.Duration
}

func electorCases() []electorCase {
	return []electorCase{
		{
			name: "redis",
			newElectors: func(t *testing.T, n int) []Elector {
				prefix := testenv.Name("smlead") + ":"
				out := make([]Elector, n)
				for i := range out {
					c := newRedis(t, testenv.Name("el"))
					cleanupKeys(t, c, prefix)
					out[i] = NewRedisElector(c, prefix)
				}
				return out
			},
			// A dead process stops renewing; the lock expires after ttl.
			kill: func(t *testing.T, lease Lease) {},
			// Another party deletes the lock (or it expired during a pause).
			steal: func(t *testing.T, lease Lease) {
				r := lease.(*redisLease)
				if err := r.client.Del(context.Background(), r.keys[0]).Err(); err != nil {
					t.Fatal(err)
				}
			},
			ttl: 300 * time.Millisecond,
		},
		{
			name: "postgres",
			newElectors: func(t *testing.T, n int) []Elector {
				url := testenv.PostgresSchema(t)
				out := make([]Elector, n)
				for i := range out {
					e, err := NewPostgresElector(context.Background(), newPool(t, url))
					if err != nil {
						t.Fatal(err)
					}
					out[i] = e
				}
				return out
			},
			// A dead process's backend goes away: terminate it from outside.
			kill: terminateLeaseBackend,
			// The connection breaks under the holder.
			steal: terminateLeaseBackend,
			ttl:   300 * time.Millisecond,
		},
	}
}

// terminateLeaseBackend ends the Postgres backend holding lease, as a
// crashed process or a broken network would.
func terminateLeaseBackend(t *testing.T, lease Lease) {
	pid := lease.(*pgLease).pid
	p := newPool(t, testenv.PostgresURL(t))
	var ok bool
	if err := p.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate %d: %v %v", pid, ok, err)
	}
}

func TestElectExactlyOneLeader(t *testing.T) {
	for _, tc := range electorCases() {
		t.Run(tc.name, func(t *testing.T) {
			const n = 6
			electors := tc.newElectors(t, n)
			name := testenv.Name("job")
			var wg sync.WaitGroup
			var mu sync.Mutex
			var leases []Lease
			start := make(chan struct{})
			for _, e := range electors {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					lease, ok, err := e.Elect(context.Background(), name, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						leases = append(leases, lease)
						mu.Unlock()
					}
				}()
			}
			close(start)
			wg.Wait()
			if len(leases) != 1 {
				t.Fatalf("%d leaders, want exactly 1", len(leases))
			}
			first := leases[0]
			if err := first.Renew(context.Background()); err != nil {
				t.Fatalf("renew: %v", err)
			}
			if err := first.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Released: another takes over with a larger fencing token.
			next, ok, err := electors[n-1].Elect(context.Background(), name, time.Minute)
			if err != nil || !ok {
				t.Fatalf("elect after release: %v %v", ok, err)
			}
			defer next.Release(context.Background())
			if next.Fencing() <= first.Fencing() {
				t.Fatalf("fencing %d after %d, want it to grow", next.Fencing(), first.Fencing())
			}
			if err := first.Renew(context.Background()); err == nil {
				t.Fatal("a released lease must not renew")
			}
		})
	}
}

func TestRunAsLeaderTakeoverAfterLeaderDies(t *testing.T) {
	for _, tc := range electorCases() {
		t.Run(tc.name, func(t *testing.T) {
			electors := tc.newElectors(t, 2)
			name := testenv.Name("job")
			// The first instance leads, then dies without releasing.
			dead, ok, err := electors[0].Elect(context.Background(), name, tc.ttl)
			if err != nil || !ok {
				t.Fatalf("first elect: %v %v", ok, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fencings := make(chan int64, 1)
			done := make(chan error, 1)
			go func() {
				done <- runAsLeader(ctx, electors[1], name, tc.ttl, func(ctx context.Context, fencing int64) error {
					fencings <- fencing
					<-ctx.Done()
					return ctx.Err()
				}, nil)
			}()
			tc.kill(t, dead)
			got := recv(t, fencings, "the second instance to lead")
			if got <= dead.Fencing() {
				t.Fatalf("fencing %d after %d, want it to grow", got, dead.Fencing())
			}
			if err := dead.Renew(context.Background()); err == nil {
				t.Fatal("the dead leader's lease must not renew")
			}
			cancel()
			recv(t, done, "runAsLeader to return")
		})
	}
}

func TestRunAsLeaderCancelsJobWhenLeaseLost(t *testing.T) {
	for _, tc := range electorCases() {
		t.Run(tc.name, func(t *testing.T) {
			electors := tc.newElectors(t, 1)
			name := testenv.Name("job")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			leases := make(chan Lease, 1)
			stopped := make(chan struct{}, 4)
			var runs atomic.Int32
			go runAsLeader(ctx, spyElector{electors[0], leases}, name, tc.ttl, func(ctx context.Context, _ int64) error {
				runs.Add(1)
				<-ctx.Done()
				stopped <- struct{}{}
				return nil
			}, nil)
			lease := recv(t, leases, "leadership")
			// Break the lease behind the leader's back.
			tc.steal(t, lease)
			recv(t, stopped, "the job to be cancelled")
			if ctx.Err() != nil {
				t.Fatal("the job must stop because of the lost lease, not the caller")
			}
			// It runs for election again and leads anew.
			recv(t, leases, "leadership again")
		})
	}
}

// spyElector passes every lease it grants to a channel.
type spyElector struct {
	Elector
	leases chan Lease
}

func (s spyElector) Elect(ctx context.Context, name string, ttl time.Duration) (Lease, bool, error) {
	l, ok, err := s.Elector.Elect(ctx, name, ttl)
	if ok {
		select {
		case s.leases <- l:
		default:
		}
	}
	return l, ok, err
}

func TestLeaderRunsJobOnceAcrossInstances(t *testing.T) {
	electors := electorCases()[1].newElectors(t, 3)
	name := testenv.Name("job")
	ctx, cancel := context.WithCancel(context.Background())
	var running, maxRunning, started atomic.Int32
	var wg sync.WaitGroup
	for _, e := range electors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			NewLeader(e, 300*time.Millisecond, nil).Run(ctx, name, func(ctx context.Context, _ int64) error {
				n := running.Add(1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				started.Add(1)
				// Finish the term early so leadership changes hands.
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
				running.Add(-1)
				return nil
			})
		}()
	}
	eventually(t, "several terms", func() bool { return started.Load() >= 5 })
	cancel()
	wg.Wait()
	if maxRunning.Load() != 1 {
		t.Fatalf("%d jobs ran at once, want 1", maxRunning.Load())
	}
}

// TestPostgresLeadersPerSchema: two deployments sharing one database in two
// schemas (search_path) each elect their own leader of a job; before, the
// advisory lock spanned the database and one deployment's leader held the
// other's job too (its purge never ran while the other lived).
func TestPostgresLeadersPerSchema(t *testing.T) {
	name := "purge" // the same job name in both deployments
	var leases []Lease
	for range 2 {
		e, err := NewPostgresElector(context.Background(), newPool(t, testenv.PostgresSchema(t)))
		if err != nil {
			t.Fatal(err)
		}
		lease, ok, err := e.Elect(context.Background(), name, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatal("a deployment in its own schema cannot lead its job: another schema's leader holds the lock")
		}
		leases = append(leases, lease)
	}
	for _, l := range leases {
		_ = l.Release(context.Background())
	}
}
