package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// busCore is what the network buses share: local fan-out, origin stamping
// and echo skipping, and the link's health.
type busCore struct {
	link
	name   string // for logs: "redis bus", "postgres bus"
	origin string
	logger *slog.Logger
	local  *sm.LocalBus
	loop   loopOwner
}

func newBusCore(name, origin string, logger *slog.Logger) busCore {
	if origin == "" {
		origin = randomID()
	}
	return busCore{name: name, origin: origin, logger: orDiscard(logger), local: sm.NewLocalBus(orDiscard(logger))}
}

// Origin returns the id this bus stamps on the messages it publishes.
func (c *busCore) Origin() string { return c.origin }

// Subscribe calls fn for every message, this instance's own included.
func (c *busCore) Subscribe(fn func(sm.Message)) (unsubscribe func()) {
	return c.local.Subscribe(fn)
}

// deliverOwn stamps m with this origin, delivers it to the local
// subscribers at once and returns its wire form for the other instances.
func (c *busCore) deliverOwn(ctx context.Context, m sm.Message) ([]byte, error) {
	m.Origin = c.origin
	_ = c.local.Publish(ctx, m)
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, sm.WrapError(sm.EINTERNAL, fmt.Sprintf("%s: encode message", c.name), err)
	}
	return payload, nil
}

// deliverRemote decodes a message from the wire and delivers it locally,
// unless it is our own echo (already delivered by deliverOwn).
func (c *busCore) deliverRemote(ctx context.Context, payload string) {
	var m sm.Message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		c.logger.Warn("cluster: "+c.name+" dropped a malformed message", "err", err)
		return
	}
	if m.Origin == c.origin {
		return
	}
	_ = c.local.Publish(ctx, m)
}

// loopOwner owns a bus's background loop: the owner runs it with Run,
// which returns when its ctx ends or Close stops it; Close waits for it.
// A constructor starts no goroutine.
type loopOwner struct {
	mu     sync.Mutex
	closed bool
	cancel context.CancelFunc
	done   chan struct{}
}

// run runs loop until ctx ends or stop is called; once per bus.
func (o *loopOwner) run(ctx context.Context, name string, loop func(ctx context.Context)) error {
	o.mu.Lock()
	if o.closed || o.done != nil {
		o.mu.Unlock()
		return sm.Errorf(sm.ECONFLICT, "%s: already running or closed", name)
	}
	ctx, cancel := context.WithCancel(ctx)
	o.cancel, o.done = cancel, make(chan struct{})
	done := o.done
	o.mu.Unlock()
	defer close(done)
	defer cancel()
	loop(ctx)
	return nil
}

// stop ends a running loop and waits for it to return; from then on run
// refuses.
func (o *loopOwner) stop() {
	o.mu.Lock()
	o.closed = true
	cancel, done := o.cancel, o.done
	o.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
