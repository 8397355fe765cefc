package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// redisPingEvery is how long the subscriber may stay silent before it
// publishes a probe through the master; no echo one period later means a
// subscription that hears nothing: a dead (half-open) connection, or one left
// on a demoted master after a Sentinel failover (go-redis moves its pool to
// the new master, not its subscriptions).
var redisPingEvery = time.Second

// probeEchoWait is how long a new subscription has to hear its own probe.
var probeEchoWait = time.Second

// probePrefix starts a probe's payload (not a Message: instances ignore
// each other's probes).
const probePrefix = "probe:"

// pendingMax bounds the messages kept for a retried publish; pendingMaxAge
// is how long one is retried (past it every instance has re-read the store:
// see docs/CLUSTER.md).
const (
	pendingMax    = 1024
	pendingMaxAge = time.Minute
)

// RedisBus carries Messages between instances over Redis pub/sub: PUBLISH
// and SUBSCRIBE on a single Redis or Sentinel's master, sharded pub/sub
// (SPUBLISH, SSUBSCRIBE) on a Redis Cluster, so the channel lives on the one
// shard that owns its slot and fails over with it. Run holds the
// subscription and dispatches to the local subscribers; it reconnects and
// resubscribes by itself (also when a failover moves the channel's slot), and
// calls the OnReconnect hooks afterwards because messages published during
// the gap are lost. A publish that Redis refuses is retried by Run until
// Redis takes it. Publish also delivers to this instance's subscribers
// directly, so they hear their own messages even while Redis is down; the
// echo coming back from Redis is skipped by Origin.
type RedisBus struct {
	busCore
	client  redis.UniversalClient
	channel string
	sharded bool          // a Redis Cluster: SPUBLISH / SSUBSCRIBE
	every   time.Duration // watchdog period, redisPingEvery at start

	pendMu  sync.Mutex
	pending []pendingMessage // publishes Redis refused, oldest first
	seq     uint64           // of the last kept message
	retry   chan struct{}    // wakes the retry loop

	mu      sync.Mutex
	ps      *redis.PubSub
	lastMsg atomic.Int64 // unix nanos of the last reply from the subscriber connection
	// watchClosed is set when the watchdog closed a silent subscription.
	watchClosed atomic.Bool
	// verify asks the watchdog to prove a new subscription hears the
	// channel; probeEcho is the last own probe heard back.
	verify    chan struct{}
	probeEcho atomic.Int64
}

type pendingMessage struct {
	seq     uint64
	payload []byte
	since   time.Time
}

var _ sm.Bus = (*RedisBus)(nil)

// NewRedisBus subscribes to channel and returns once the subscription is
// confirmed (an error when Redis cannot be reached within ctx). origin is
// this instance's unique id; empty picks a random one. It starts no
// goroutine: other instances' messages arrive while Run runs; Close
// releases the subscription.
func NewRedisBus(ctx context.Context, client redis.UniversalClient, channel, origin string, logger *slog.Logger) (*RedisBus, error) {
	if client == nil || channel == "" {
		return nil, sm.Errorf(sm.EINVALID, "redis bus: a client and a channel are required")
	}
	_, sharded := client.(*redis.ClusterClient)
	b := &RedisBus{
		busCore: newBusCore("redis bus", origin, logger),
		client:  client, channel: channel, sharded: sharded, every: redisPingEvery,
		retry: make(chan struct{}, 1), verify: make(chan struct{}, 1),
	}
	ps := b.subscribe(ctx)
	if err := awaitSubscription(ctx, ps); err != nil {
		_ = ps.Close()
		return nil, sm.WrapError(sm.EUNAVAILABLE, fmt.Sprintf("redis bus: subscribe to %q", channel), err)
	}
	b.ps = ps
	b.up()
	b.touch()
	return b, nil
}

// Run receives the other instances' messages (and watches the connection
// on a goroutine it waits for) until ctx ends or Close; once per bus.
func (b *RedisBus) Run(ctx context.Context) error {
	return b.loop.run(ctx, "redis bus", func(ctx context.Context) {
		// A blocked Receive does not see ctx; closing the subscription
		// ends it.
		unblock := context.AfterFunc(ctx, func() { _ = b.pubsub().Close() })
		defer unblock()
		var helpers sync.WaitGroup
		helpers.Go(func() { b.watch(ctx) })
		helpers.Go(func() { b.retryPending(ctx) })
		b.receive(ctx)
		helpers.Wait()
	})
}

// subscribe starts a subscription to the channel: sharded on a cluster.
func (b *RedisBus) subscribe(ctx context.Context) *redis.PubSub {
	if b.sharded {
		return b.client.SSubscribe(ctx, b.channel)
	}
	return b.client.Subscribe(ctx, b.channel)
}

// errNotMaster is a publish that reached a replica: the client's view of
// the master is stale (a Sentinel failover under way).
var errNotMaster = errors.New("redis bus: the server is not the master (failover under way)")

// publish sends payload on the channel. Outside a cluster it runs ROLE and
// PUBLISH in one MULTI, so a publish that landed on a demoted master (a
// replica takes PUBLISH but its subscribers are not the others') counts as
// failed and is retried.
func (b *RedisBus) publish(ctx context.Context, payload []byte) error {
	if b.sharded {
		return b.client.SPublish(ctx, b.channel, payload).Err()
	}
	var role *redis.Cmd
	_, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		role = p.Do(ctx, "ROLE")
		p.Publish(ctx, b.channel, payload)
		return nil
	})
	if err != nil {
		return err
	}
	return masterRole(role)
}

// masterRole returns errNotMaster unless ROLE answered "master".
func masterRole(cmd *redis.Cmd) error {
	v, err := cmd.Slice()
	if err != nil {
		return err
	}
	if len(v) == 0 || v[0] != "master" {
		return errNotMaster
	}
	return nil
}

// awaitSubscription reads replies until Redis confirms the subscription.
func awaitSubscription(ctx context.Context, ps *redis.PubSub) error {
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if s, ok := msg.(*redis.Subscription); ok && (s.Kind == "subscribe" || s.Kind == "ssubscribe") {
			return nil
		}
	}
}

// Publish delivers m to this instance's subscribers and to every other
// instance through Redis. When Redis refuses it (down, failing over) the
// message is kept and Run publishes it again until Redis takes it (for up to
// a minute); the error says the other instances have not heard it yet.
func (b *RedisBus) Publish(ctx context.Context, m sm.Message) error {
	payload, err := b.deliverOwn(ctx, m)
	if err != nil {
		return err
	}
	if b.hasPending() {
		// Keep the order: this one goes after those still waiting.
		b.keep(payload)
		return sm.Errorf(sm.EUNAVAILABLE, "redis bus: publish queued behind earlier failed ones")
	}
	if err := b.publish(ctx, payload); err != nil {
		b.keep(payload)
		return sm.WrapError(sm.EUNAVAILABLE, "redis bus: publish failed, retrying in the background", err)
	}
	return nil
}

func (b *RedisBus) hasPending() bool {
	b.pendMu.Lock()
	defer b.pendMu.Unlock()
	return len(b.pending) > 0
}

// keep queues payload for retryPending, dropping the oldest past pendingMax.
func (b *RedisBus) keep(payload []byte) {
	b.pendMu.Lock()
	if len(b.pending) >= pendingMax {
		b.pending = b.pending[1:]
		b.logger.Warn("cluster: redis bus retry queue full, dropped the oldest message")
	}
	b.seq++
	b.pending = append(b.pending, pendingMessage{seq: b.seq, payload: payload, since: time.Now()})
	b.pendMu.Unlock()
	select {
	case b.retry <- struct{}{}:
	default:
	}
}

// retryPending publishes the kept messages in order until ctx is done,
// backing off while Redis still refuses them.
func (b *RedisBus) retryPending(ctx context.Context) {
	wait := 50 * time.Millisecond
	for {
		b.pendMu.Lock()
		var next pendingMessage
		for len(b.pending) > 0 && time.Since(b.pending[0].since) > pendingMaxAge {
			b.pending = b.pending[1:]
			b.logger.Warn("cluster: redis bus gave up a message after retrying for a minute")
		}
		if len(b.pending) > 0 {
			next = b.pending[0]
		}
		b.pendMu.Unlock()
		if next.seq == 0 {
			select {
			case <-ctx.Done():
				return
			case <-b.retry:
				continue
			}
		}
		pubCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := b.publish(pubCtx, next.payload)
		cancel()
		if err != nil {
			if !sleepCtx(ctx, wait) {
				return
			}
			wait = backoff(wait, 2*time.Second)
			continue
		}
		wait = 50 * time.Millisecond
		b.pendMu.Lock()
		if len(b.pending) > 0 && b.pending[0].seq == next.seq {
			b.pending = b.pending[1:]
		}
		b.pendMu.Unlock()
		b.logger.Info("cluster: redis bus published a message after a retry")
	}
}

// Close stops Run, waits for it and closes the subscription's connection
// (not the client).
func (b *RedisBus) Close() error {
	b.loop.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.ps.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

func (b *RedisBus) touch() { b.lastMsg.Store(time.Now().UnixNano()) }

func (b *RedisBus) pubsub() *redis.PubSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ps
}

// receive reads the subscriber connection until ctx is done. After an error
// it subscribes afresh (on a cluster once the channel's slot has a master);
// a new "subscribe" confirmation means the link came back.
func (b *RedisBus) receive(ctx context.Context) {
	wait := 50 * time.Millisecond
	for ctx.Err() == nil {
		ps := b.pubsub()
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.fail(err)
			b.logger.Warn("cluster: redis bus connection lost, reconnecting", "err", err)
			if b.sharded {
				// Subscribe afresh once the slot's master is known (go-redis
				// alone could reconnect to a node that is a replica now).
				b.awaitChannelMaster(ctx)
				_ = ps.Close()
				b.replace(ctx, ps)
				continue
			}
			// A fresh subscription asks for the master's address again
			// (Sentinel: go-redis's own reconnect could go back to the
			// demoted master and hang there); after a pause unless the
			// watchdog closed it.
			if !b.watchClosed.Swap(false) && !errors.Is(err, redis.ErrClosed) {
				if !sleepCtx(ctx, wait) {
					return
				}
				wait = backoff(wait, 5*time.Second)
			}
			_ = ps.Close()
			b.replace(ctx, ps)
			continue
		}
		wait = 50 * time.Millisecond
		b.touch()
		switch msg := msg.(type) {
		case *redis.Subscription:
			switch msg.Kind {
			case "subscribe", "ssubscribe":
				b.logger.Info("cluster: redis bus resubscribed", "channel", b.channel)
				b.reconnected()
				select {
				case b.verify <- struct{}{}:
				default:
				}
			case "unsubscribe", "sunsubscribe":
				// Not ours (only Close unsubscribes): a cluster failover or
				// resharding moved the channel's slot away from this node,
				// which drops its shard subscribers. Subscribe afresh, on
				// the slot's new owner.
				b.fail(fmt.Errorf("redis bus: the server ended the subscription (%s): the channel's slot moved", msg.Kind))
				b.logger.Warn("cluster: redis bus subscription ended by the server, resubscribing", "channel", b.channel)
				b.awaitChannelMaster(ctx)
				_ = ps.Close()
				b.replace(ctx, ps)
			}
		case *redis.Message:
			if rest, ok := strings.CutPrefix(msg.Payload, probePrefix); ok {
				origin, nonce, _ := strings.Cut(rest, ":")
				if n, err := strconv.ParseInt(nonce, 10, 64); err == nil && origin == b.origin {
					b.probeEcho.Store(n)
				}
				continue
			}
			b.deliverRemote(ctx, msg.Payload)
		}
	}
}

// replace swaps a closed PubSub for a fresh subscription.
func (b *RedisBus) replace(ctx context.Context, old *redis.PubSub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps == old {
		b.ps = b.subscribe(ctx)
	}
}

// awaitChannelMaster waits until the cluster client's view of the slots
// names a node that is a master as the owner of the channel's slot, so the
// next subscription goes there: right after a failover the old master (a
// replica now) still takes SSUBSCRIBE, and it would hear nothing.
func (b *RedisBus) awaitChannelMaster(ctx context.Context) {
	c, ok := b.client.(*redis.ClusterClient)
	if !ok {
		return
	}
	wait := 50 * time.Millisecond
	for {
		c.ReloadState(ctx)
		if !sleepCtx(ctx, wait) {
			return
		}
		if m, err := c.MasterForKey(ctx, b.channel); err == nil {
			role, err := m.Do(ctx, "ROLE").Slice()
			if err == nil && len(role) > 0 && role[0] == "master" {
				return
			}
		}
		wait = backoff(wait, time.Second)
	}
}

// watch proves the subscription hears the channel: right after each new
// subscription, and whenever it has been silent for a period, it publishes
// a probe through the master and expects its own echo (within probeEchoWait,
// or by the next period); none means the subscription hears nothing (a
// half-open socket, a node that is no longer the master), so it is closed
// and receive subscribes again.
func (b *RedisBus) watch(ctx context.Context) {
	t := time.NewTicker(b.every)
	defer t.Stop()
	var probe int64 // the probe waiting for its echo (0: none)
	probed := false // it reached the master
	var echoDue <-chan time.Time
	send := func() {
		probe = time.Now().UnixNano()
		pubCtx, cancel := context.WithTimeout(ctx, max(b.every, probeEchoWait))
		err := b.publish(pubCtx, []byte(probePrefix+b.origin+":"+strconv.FormatInt(probe, 10)))
		cancel()
		probed = err == nil
		if err != nil && ctx.Err() == nil {
			b.fail(err)
		}
	}
	check := func(within time.Duration) {
		if probe != 0 && (!probed || b.probeEcho.Load() < probe) {
			b.fail(fmt.Errorf("redis bus: the subscription did not hear its own probe within %s", within))
			b.logger.Warn("cluster: redis bus subscription hears nothing, subscribing again", "channel", b.channel)
			b.watchClosed.Store(true)
			_ = b.pubsub().Close()
			b.touch() // give the new subscription a full period
		}
		probe = 0
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.verify:
			send()
			echoDue = time.After(probeEchoWait)
		case <-echoDue:
			echoDue = nil
			check(probeEchoWait)
		case <-t.C:
			if echoDue != nil {
				continue // a new subscription's check is under way
			}
			if probe != 0 {
				check(b.every)
				continue
			}
			if time.Since(time.Unix(0, b.lastMsg.Load())) >= b.every {
				send()
			}
		}
	}
}

// randomID returns 16 random hex characters.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
