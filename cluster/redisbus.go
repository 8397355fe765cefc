package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// redisPingEvery is how long the subscriber may stay silent before it pings;
// an unanswered ping one period later means a dead (half-open) connection.
var redisPingEvery = 5 * time.Second

// RedisBus carries Messages between instances over Redis pub/sub. Run
// holds the SUBSCRIBE connection and dispatches to the local
// subscribers; it reconnects and resubscribes by itself, and calls the
// OnReconnect hooks afterwards because messages published during the gap are
// lost. Publish also delivers to this instance's subscribers directly, so
// they hear their own messages even while Redis is down; the echo coming
// back from Redis is skipped by Origin.
type RedisBus struct {
	busCore
	client  *redis.Client
	channel string
	every   time.Duration // watchdog period, redisPingEvery at start

	mu      sync.Mutex
	ps      *redis.PubSub
	lastMsg atomic.Int64 // unix nanos of the last reply from the subscriber connection
	// watchClosed is set when the watchdog closed a silent subscription.
	watchClosed atomic.Bool
}

var _ sm.Bus = (*RedisBus)(nil)

// NewRedisBus subscribes to channel and returns once the subscription is
// confirmed (an error when Redis cannot be reached within ctx). origin is
// this instance's unique id; empty picks a random one. It starts no
// goroutine: other instances' messages arrive while Run runs; Close
// releases the subscription.
func NewRedisBus(ctx context.Context, client *redis.Client, channel, origin string, logger *slog.Logger) (*RedisBus, error) {
	if client == nil || channel == "" {
		return nil, sm.Errorf(sm.EINVALID, "redis bus: a client and a channel are required")
	}
	b := &RedisBus{
		busCore: newBusCore("redis bus", origin, logger),
		client:  client, channel: channel, every: redisPingEvery,
	}
	ps := client.Subscribe(ctx, channel)
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
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			b.watch(ctx)
		}()
		b.receive(ctx)
		<-watched
	})
}

// awaitSubscription reads replies until Redis confirms the subscription.
func awaitSubscription(ctx context.Context, ps *redis.PubSub) error {
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if _, ok := msg.(*redis.Subscription); ok {
			return nil
		}
	}
}

// Publish delivers m to this instance's subscribers and to every other
// instance through Redis. An error means the other instances may not hear it.
func (b *RedisBus) Publish(ctx context.Context, m sm.Message) error {
	payload, err := b.deliverOwn(ctx, m)
	if err != nil {
		return err
	}
	if err := b.client.Publish(ctx, b.channel, payload).Err(); err != nil {
		return sm.WrapError(sm.EUNAVAILABLE, "redis bus: publish", err)
	}
	return nil
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

// receive reads the subscriber connection until ctx is done. go-redis
// reconnects and resubscribes on the next Receive after an error; a new
// "subscribe" confirmation therefore means the link came back.
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
			if b.watchClosed.Swap(false) || errors.Is(err, redis.ErrClosed) {
				b.replace(ctx, ps)
				continue
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			wait = backoff(wait, 5*time.Second)
			continue
		}
		wait = 50 * time.Millisecond
		b.touch()
		switch msg := msg.(type) {
		case *redis.Subscription:
			if msg.Kind == "subscribe" {
				b.logger.Info("cluster: redis bus resubscribed", "channel", b.channel)
				b.reconnected()
			}
		case *redis.Message:
			b.deliverRemote(ctx, msg.Payload)
		}
	}
}

// replace swaps a PubSub closed by the watchdog for a fresh subscription.
func (b *RedisBus) replace(ctx context.Context, old *redis.PubSub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ps == old {
		b.ps = b.client.Subscribe(ctx, b.channel)
	}
}

// watch pings a silent subscriber connection and closes it when a ping stays
// unanswered, which go-redis alone would not notice on a half-open socket.
func (b *RedisBus) watch(ctx context.Context) {
	t := time.NewTicker(b.every)
	defer t.Stop()
	var pingedAt int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last := b.lastMsg.Load()
		if time.Since(time.Unix(0, last)) < b.every {
			pingedAt = 0
			continue
		}
		ps := b.pubsub()
		if pingedAt != 0 && last < pingedAt {
			b.fail(fmt.Errorf("redis bus: ping unanswered for %s", b.every))
			b.watchClosed.Store(true)
			_ = ps.Close()
			b.touch() // give the new subscription a full period
			pingedAt = 0
			continue
		}
		pingedAt = time.Now().UnixNano()
		if err := ps.Ping(ctx); err != nil {
			b.fail(err)
		}
	}
}

// randomID returns 16 random hex characters.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
