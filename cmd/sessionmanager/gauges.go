package main

import (
	"context"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// gauge is a float64 read at scrape time.
type gauge struct{ bits atomic.Uint64 }

func (g *gauge) load() float64   { return math.Float64frombits(g.bits.Load()) }
func (g *gauge) store(v float64) { g.bits.Store(math.Float64bits(v)) }

// storeGauges refreshes the store-backed gauges (active sessions, outbox
// depth) in the background, so a scrape never waits on a query.
type storeGauges struct {
	store          fullStore
	log            *slog.Logger
	clock          sm.Clock
	active, outbox gauge
}

func (g *storeGauges) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The counter alone, not the whole of Stats: at millions of sessions
	// Stats' presence counts take seconds, every 15 s.
	if n, err := g.store.OnlineNow(ctx); err == nil {
		g.active.store(float64(n))
	} else if ctx.Err() == nil {
		g.log.Warn("metrics: online sessions", "err", err)
	}
	if n, err := g.store.OutboxDepth(ctx); err == nil {
		g.outbox.store(float64(n))
	}
}

func (g *storeGauges) run(ctx context.Context) {
	t, tick := g.clock.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		g.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
