package sessionmanager

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Queue bounds of the in-process bus.
const (
	localQueueSize   = 1024
	localSendTimeout = time.Second
)

// LocalBus fans Messages out to the subscribers of this process: the
// single-instance Bus, and the local half of the network buses. Each
// subscriber has its own goroutine (started by Subscribe, stopped by its
// unsubscribe) and a bounded queue, so a slow subscriber delays only
// itself and a subscriber may publish or subscribe from its callback:
// Publish waits at most about a second for a full queue, then drops the
// message for that subscriber (counted by Dropped). Order is kept per
// subscriber; a panicking subscriber is logged and keeps its goroutine.
type LocalBus struct {
	logger  *slog.Logger
	mu      sync.Mutex
	subs    map[uint64]*localSub
	nextID  uint64
	dropped atomic.Uint64
	// snap is subs as a slice, rebuilt under mu by Subscribe and
	// unsubscribe: Publish reads it without a lock, so a publisher waiting
	// on a full queue never holds up a Subscribe nor, through it, other
	// publishers.
	snap atomic.Pointer[[]*localSub]
}

type localSub struct {
	fn    func(Message)
	queue chan Message
	done  chan struct{} // closed by unsubscribe
	ended chan struct{} // closed when its goroutine returns
}

var _ Bus = (*LocalBus)(nil)

// NewLocalBus returns an in-process bus that logs to logger (nil:
// slog.Default()).
func NewLocalBus(logger *slog.Logger) *LocalBus {
	if logger == nil {
		logger = slog.Default()
	}
	return &LocalBus{logger: logger, subs: map[uint64]*localSub{}}
}

// Publish queues m for every subscriber; it never blocks for long.
func (b *LocalBus) Publish(ctx context.Context, m Message) error {
	subs := b.snap.Load()
	if subs == nil {
		return nil
	}
	for _, s := range *subs {
		select {
		case s.queue <- m:
			continue
		default:
		}
		b.sendSlow(ctx, s, m)
	}
	return nil
}

// sendSlow waits a bounded time for room in a full queue, then drops.
func (b *LocalBus) sendSlow(ctx context.Context, s *localSub, m Message) {
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
	b.logger.Warn("bus subscriber is too slow, message dropped", "kind", m.Kind)
}

// Subscribe calls fn, on a goroutine of its own, for every message published
// after it returns, until unsubscribe is called; the goroutine returns
// then, once a call in progress has returned (unsubscribe does not wait for
// it, so fn itself may unsubscribe).
func (b *LocalBus) Subscribe(fn func(Message)) (unsubscribe func()) {
	s := &localSub{fn: fn, queue: make(chan Message, localQueueSize), done: make(chan struct{}), ended: make(chan struct{})}
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.subs[id] = s
	b.rebuild()
	b.mu.Unlock()
	go b.deliver(s)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.rebuild()
			b.mu.Unlock()
			close(s.done)
		})
	}
}

// rebuild publishes the subscriber list to Publish; b.mu is held.
func (b *LocalBus) rebuild() {
	subs := make([]*localSub, 0, len(b.subs))
	for _, s := range b.subs {
		subs = append(subs, s)
	}
	b.snap.Store(&subs)
}

func (b *LocalBus) deliver(s *localSub) {
	defer close(s.ended)
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
func (b *LocalBus) call(fn func(Message), m Message) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("bus subscriber panicked", "kind", m.Kind, "panic", r)
		}
	}()
	fn(m)
}

// Dropped returns how many deliveries were dropped for slow subscribers.
func (b *LocalBus) Dropped() uint64 { return b.dropped.Load() }
