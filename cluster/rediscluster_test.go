package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/redistest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// newTargetClient opens REDIS_URL url as the service does.
func newTargetClient(t testing.TB, url string, want RedisMode) redis.UniversalClient {
	t.Helper()
	target, err := ParseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	if target.Mode != want {
		t.Fatalf("mode = %s, want %s", target.Mode, want)
	}
	c := target.NewClient()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newBus(t *testing.T, c redis.UniversalClient, channel, origin string) *RedisBus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	b, err := NewRedisBus(ctx, c, channel, origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, b)
	return b
}

// TestRedisClusterBusIsSharded: on a cluster the bus subscribes with
// SSUBSCRIBE on the master of its channel's slot, and a message crosses
// from one instance's client to another's.
func TestRedisClusterBusIsSharded(t *testing.T) {
	rc := redistest.SharedCluster(t)
	ctx := context.Background()
	for _, url := range []string{rc.URL(), rc.AddrURL()} {
		channel := testenv.Name("smbus:")
		a := newBus(t, newTargetClient(t, url, RedisCluster), channel, "A")
		b := newBus(t, newTargetClient(t, url, RedisCluster), channel, "B")
		onB := make(chan sm.Message, 10)
		defer b.Subscribe(func(m sm.Message) { onB <- m })()

		slot, err := rc.Slot(ctx, channel)
		if err != nil {
			t.Fatal(err)
		}
		master, _, err := rc.MasterOf(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		mc := master.Client()
		defer mc.Close()
		subs, err := mc.PubSubShardNumSub(ctx, channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if subs[channel] != 2 {
			t.Fatalf("shard subscribers of %s on its master = %d, want 2 (sharded pub/sub)", channel, subs[channel])
		}
		if err := a.Publish(ctx, sm.Message{Kind: sm.MsgSessionEnded, SessionID: "s1"}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, onB, "message on B over the cluster"); m.SessionID != "s1" || m.Origin != "A" {
			t.Fatalf("B got %+v", m)
		}
	}
}

// keysOnTwoMasters returns n keys (under prefix) whose slots belong to at
// least two different masters.
func keysOnTwoMasters(t *testing.T, rc *redistest.Cluster, prefix string, n int, full func(string) string) []string {
	t.Helper()
	ctx := context.Background()
	masters := map[string]bool{}
	var keys []string
	for i := 0; len(keys) < n || len(masters) < 2; i++ {
		if i > 1000 {
			t.Fatal("no keys on two masters")
		}
		k := prefix + string(rune('a'+i%26)) + string(rune('a'+i/26))
		slot, err := rc.Slot(ctx, full(k))
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := rc.MasterOf(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) < n || !masters[m.Addr] {
			keys = append(keys, k)
			masters[m.Addr] = true
		}
	}
	return keys
}

// TestRedisClusterCountersLeaderActivity: the failure counter, leader
// election (two scripts' keys in one hash tag) and the last-seen buffer
// work on a cluster with their keys spread over different masters.
func TestRedisClusterCountersLeaderActivity(t *testing.T) {
	rc := redistest.SharedCluster(t)
	ctx := context.Background()
	c := newTargetClient(t, rc.URL(), RedisCluster)
	prefix := testenv.Name("smc:") + ":"

	counter := NewRedisCounter(c, prefix)
	keys := keysOnTwoMasters(t, rc, "k", 4, func(k string) string { return prefix + "count:" + k })
	for i, k := range keys {
		for range i + 1 {
			if _, err := counter.Incr(ctx, k, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, k := range keys {
		if n, err := counter.Get(ctx, k); err != nil || n != int64(i+1) {
			t.Fatalf("count of %s = %d, %v; want %d", k, n, err, i+1)
		}
		if err := counter.Decr(ctx, k, time.Minute); err != nil {
			t.Fatal(err)
		}
		if n, _ := counter.Get(ctx, k); n != int64(i) {
			t.Fatalf("after Decr %s = %d, want %d", k, n, i)
		}
		if err := counter.Reset(ctx, k); err != nil {
			t.Fatal(err)
		}
	}

	el := NewRedisElector(c, prefix)
	names := keysOnTwoMasters(t, rc, "job", 2, func(n string) string { return el.keys(n)[0] })
	for _, name := range names {
		lease, ok, err := el.Elect(ctx, name, 10*time.Second)
		if err != nil || !ok {
			t.Fatalf("elect %s: ok=%v err=%v", name, ok, err)
		}
		if _, again, err := el.Elect(ctx, name, 10*time.Second); err != nil || again {
			t.Fatalf("a second leader of %s: ok=%v err=%v", name, again, err)
		}
		if err := lease.Renew(ctx); err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(ctx); err != nil {
			t.Fatal(err)
		}
		next, ok, err := el.Elect(ctx, name, 10*time.Second)
		if err != nil || !ok || next.Fencing() <= lease.Fencing() {
			t.Fatalf("re-elect %s: ok=%v err=%v fencing %d after %d", name, ok, err, next.Fencing(), lease.Fencing())
		}
		_ = next.Release(ctx)
	}

	act := NewRedisActivity(c, prefix)
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := act.WriteLastSeen(ctx, []sm.LastSeen{{SessionID: "s1", At: at}, {SessionID: "s2", At: at}}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := act.Get(ctx, "s1"); err != nil || !ok || !got.Equal(at) {
		t.Fatalf("Get = %v %v %v", got, ok, err)
	}
	if notes, err := act.Drain(ctx, 10); err != nil || len(notes) != 2 {
		t.Fatalf("Drain = %v, %v", notes, err)
	}
}

// TestRedisClusterBusFailover fails over the master that owns the bus
// channel's slot while instance A publishes a revocation, and checks that
// B either hears it or is told it may have missed something (OnReconnect,
// after which the app re-reads the store), and that the bus works again
// afterwards without a restart. Kill: the master crashes (SIGKILL) and the
// replica takes over after the node timeout; A's publish is refused and
// retried. Manual: CLUSTER FAILOVER hands the slot over, which makes the
// old master drop its shard subscribers (SUNSUBSCRIBE), and B subscribes
// again on the new one.
func TestRedisClusterBusFailover(t *testing.T) {
	rc := redistest.SharedCluster(t)
	for _, mode := range []string{"kill", "manual"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			channel := testenv.Name("smbus:")
			a := newBus(t, newTargetClient(t, rc.URL(), RedisCluster), channel, "A")
			b := newBus(t, newTargetClient(t, rc.URL(), RedisCluster), channel, "B")
			var published, reconnectedAfter atomic.Bool
			reconnected := make(chan struct{}, 10)
			b.OnReconnect(func() {
				if published.Load() {
					reconnectedAfter.Store(true)
				}
				reconnected <- struct{}{}
			})
			onB := make(chan sm.Message, 100)
			defer b.Subscribe(func(m sm.Message) { onB <- m })()

			slot, err := rc.Slot(ctx, channel)
			if err != nil {
				t.Fatal(err)
			}
			during := func() {
				_ = a.Publish(ctx, sm.Message{Kind: sm.MsgSessionEnded, SessionID: "during"})
				published.Store(true)
			}
			if err := rc.Failover(ctx, mode, slot, during); err != nil {
				t.Fatal(err)
			}
			heard := false
			deadline := time.After(waitLimit)
			for !heard && !reconnectedAfter.Load() {
				select {
				case m := <-onB:
					heard = m.SessionID == "during"
				case <-reconnected:
				case <-deadline:
					t.Fatal("B neither heard the revocation published during the failover nor was told it may have missed it")
				}
			}
			t.Logf("%s failover: B heard the message: %v; B resubscribed after it: %v", mode, heard, reconnectedAfter.Load())
			// Recovered without a restart: a new message crosses.
			crossesAgain(t, a, onB)
		})
	}
}

// TestRedisSentinel: the bus, the counter and the elector work through
// Sentinel, and after SENTINEL FAILOVER the bus delivers again and the
// counter counts on the new master, without a restart.
func TestRedisSentinel(t *testing.T) {
	rs := redistest.SharedSentinel(t)
	ctx := context.Background()
	channel := testenv.Name("smbus:")
	a := newBus(t, newTargetClient(t, rs.URL(), RedisSentinel), channel, "A")
	cb := newTargetClient(t, rs.URL(), RedisSentinel)
	b := newBus(t, cb, channel, "B")
	onB := make(chan sm.Message, 100)
	defer b.Subscribe(func(m sm.Message) { onB <- m })()
	if err := a.Publish(ctx, sm.Message{Kind: sm.MsgSessionEnded, SessionID: "before"}); err != nil {
		t.Fatal(err)
	}
	recv(t, onB, "message through Sentinel's master")
	counter := NewRedisCounter(cb, testenv.Name("sms:"))
	if n, err := counter.Incr(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if _, ok, err := NewRedisElector(cb, testenv.Name("sms:")).Elect(ctx, "job", time.Second); err != nil || !ok {
		t.Fatalf("elect: %v %v", ok, err)
	}

	newMaster, err := rs.Failover(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sentinel promoted %s", newMaster)
	crossesAgain(t, a, onB)
	// The replica took the count over, and writes go to the new master.
	eventually(t, "the counter to count on the new master", func() bool {
		n, err := counter.Incr(ctx, "k", time.Minute)
		return err == nil && n >= 2
	})
}

// crossesAgain waits until a message a publishes reaches onB: the bus works
// again after a failover, without a restart.
func crossesAgain(t *testing.T, a *RedisBus, onB <-chan sm.Message) {
	t.Helper()
	eventually(t, "a message after the failover to reach B", func() bool {
		_ = a.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: "after"})
		for {
			select {
			case m := <-onB:
				if m.SessionID == "after" {
					return true
				}
			case <-time.After(200 * time.Millisecond):
				return false
			}
		}
	})
}
