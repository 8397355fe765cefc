package cluster

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Queue bounds of the in-process bus.
const (
	localQueueSize   = 1024
	localSendTimeout = time.Second
)

// LocalBus fans Messages out to the subscribers of this process. Each
// subscriber has its own goroutine and a bounded queue, so a slow subscriber
// delays only itself: Publish waits at most about a second for a full queue,
// then drops the message for that subscriber (counted by Dropped). Order is
// kept per subscriber.
type LocalBus struct {
	logger  *slog.Logger
	mu      sync.RWMutex
	subs    map[uint64]*localSub
	nextID  uint64
	dropped atomic.Uint64
}

type localSub struct {
	fn    func(sm.Message)
	queue chan sm.Message
	done  chan struct{}
}

var _ sm.Bus = (*LocalBus)(nil)

// NewLocalBus returns the in-process bus, the single-instance default.
func NewLocalBus() *LocalBus {
	return newLocalBus(nil)
}

func newLocalBus(logger *slog.Logger) *LocalBus {
	return &LocalBus{logger: orDiscard(logger), subs: map[uint64]*localSub{}}
}

// Publish queues m for every subscriber; it never blocks for long.
func (b *LocalBus) Publish(ctx context.Context, m sm.Message) error {
	b.dispatch(ctx, m)
	return nil
}

func (b *LocalBus) dispatch(ctx context.Context, m sm.Message) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, s := range b.subs {
		select {
		case s.queue <- m:
			continue
		default:
		}
		b.sendSlow(ctx, s, m)
	}
}

// sendSlow waits a bounded time for room in a full queue, then drops.
func (b *LocalBus) sendSlow(ctx context.Context, s *localSub, m sm.Message) {
	t := time.NewTimer(localSendTimeout)
	defer t.Stop()
	select {
	case s.queue <- m:
		return
	case <-s.done:
		return
	case <-ctx.Done():
	case <-t.C:
	}
	b.dropped.Add(1)
	b.logger.Warn("cluster: bus subscriber is too slow, message dropped", "kind", m.Kind)
}

// Subscribe calls fn, on a goroutine of its own, for every message published
// after it returns, until unsubscribe is called.
func (b *LocalBus) Subscribe(fn func(sm.Message)) (unsubscribe func()) {
	s := &localSub{fn: fn, queue: make(chan sm.Message, localQueueSize), done: make(chan struct{})}
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.subs[id] = s
	b.mu.Unlock()
	go b.deliver(s)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
			close(s.done)
		})
	}
}

func (b *LocalBus) deliver(s *localSub) {
	for {
		select {
		case <-s.done:
			return
		case m := <-s.queue:
			select {
			case <-s.done:
				return
			default:
			}
			b.call(s.fn, m)
		}
	}
}

// call runs one subscriber, so a panicking subscriber cannot take the
// process down.
func (b *LocalBus) call(fn func(sm.Message), m sm.Message) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("cluster: bus subscriber panicked", "kind", m.Kind, "panic", r)
		}
	}()
	fn(m)
}

// Dropped returns how many deliveries were dropped for slow subscribers.
func (b *LocalBus) Dropped() uint64 { return b.dropped.Load() }
