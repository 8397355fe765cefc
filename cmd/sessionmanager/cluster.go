package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/cluster"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// clusterParts are what several instances share: the bus, last-seen,
// failure counters and job leadership. One instance: all in process.
type clusterParts struct {
	instance string
	bus      sm.Bus
	activity sm.ActivitySink // nil: the store directly
	counter  sm.Counter
	// replay spends DPoP jtis: Redis without fallback (fail closed, 503,
	// rather than per-instance replay protection); nil: the core's own.
	replay     sm.Counter
	elector    cluster.Elector
	reconnects []func(fn func())
	// healthy reports whether Redis answers (nil without Redis).
	healthy func() bool
	// status describes the shared link for /readyz and the dashboard.
	status  func() sm.SharedStatus
	runners []func(ctx context.Context)
	closers []func()
	log     *slog.Logger
}

func (p *clusterParts) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// onReconnect registers fn to run when a bus reconnects (messages may have
// been lost in the gap, so caches are dropped).
func (p *clusterParts) onReconnect(fn func()) {
	for _, r := range p.reconnects {
		r(fn)
	}
}

// leader runs fn only while this instance leads job (always, alone).
func (p *clusterParts) leader(ctx context.Context, job string, fn func(ctx context.Context) error) {
	if p.elector == nil {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("job stopped", "job", job, "err", err)
		}
		return
	}
	cluster.NewLeader(p.elector, 15*time.Second, p.log).Run(ctx, job, func(ctx context.Context, _ int64) error { return fn(ctx) })
}

// fallbackSink writes last-seen to Redis and, when Redis fails, straight to
// the store: activity degrades to store writes, it is never lost.
type fallbackSink struct {
	primary sm.ActivitySink
	store   sm.SessionStore
	log     *slog.Logger
}

func (f fallbackSink) WriteLastSeen(ctx context.Context, notes []sm.LastSeen) error {
	if err := f.primary.WriteLastSeen(ctx, notes); err != nil {
		f.log.Warn("redis last-seen write failed; writing to the store", "err", err)
		return f.store.TouchSessions(ctx, notes)
	}
	return nil
}

// fallbackCounter counts in Redis and, when Redis fails, in process.
type fallbackCounter struct {
	primary, local sm.Counter
}

func (f fallbackCounter) Incr(ctx context.Context, key string, w time.Duration) (int64, error) {
	if n, err := f.primary.Incr(ctx, key, w); err == nil {
		return n, nil
	}
	return f.local.Incr(ctx, key, w)
}

func (f fallbackCounter) Get(ctx context.Context, key string) (int64, error) {
	if n, err := f.primary.Get(ctx, key); err == nil {
		return n, nil
	}
	return f.local.Get(ctx, key)
}

func (f fallbackCounter) Decr(ctx context.Context, key string, left time.Duration) error {
	_ = f.local.Decr(ctx, key, left)
	return f.primary.Decr(ctx, key, left)
}

func (f fallbackCounter) Reset(ctx context.Context, key string) error {
	_ = f.local.Reset(ctx, key)
	return f.primary.Reset(ctx, key)
}

func buildCluster(ctx context.Context, c *config, st fullStore, log *slog.Logger) (*clusterParts, error) {
	p := &clusterParts{instance: sm.NewID()[:12], log: log, counter: sm.NewMemoryCounter(c.clock)}
	pg, _ := st.(*postgres.Store)
	switch {
	case c.RedisURL != "":
		target, err := cluster.ParseRedisURL(c.RedisURL)
		if err != nil {
			return nil, &configError{err.Error()}
		}
		if t := cluster.ResolveCluster(ctx, target); t != target {
			log.Info("REDIS_URL names a node of a Redis Cluster: using it as the cluster's seed")
			target = t
		}
		client := target.NewClient()
		p.closers = append(p.closers, func() { _ = client.Close() })
		bus, err := cluster.NewRedisBus(ctx, client, c.RedisPrefix+"bus", p.instance, log)
		if err != nil {
			return nil, fmt.Errorf("redis bus (%s, REDIS_URL): %w", target.Mode, err)
		}
		p.closers = append(p.closers, func() { _ = bus.Close() })
		p.runners = append(p.runners, func(ctx context.Context) { _ = bus.Run(ctx) })
		p.bus = bus
		p.reconnects = append(p.reconnects, bus.OnReconnect)
		health := cluster.NewHealth(client, time.Second, log)
		_ = health.Check(ctx)
		p.runners = append(p.runners, health.Run)
		p.healthy = health.Healthy
		// Redis answering again after a failure (a failover, a restart)
		// may follow lost messages too.
		p.reconnects = append(p.reconnects, health.OnReconnect)
		p.status = func() sm.SharedStatus {
			st := sm.SharedStatus{Bus: "redis", RedisMode: string(target.Mode), Healthy: health.Healthy() && bus.Healthy()}
			if !st.Healthy {
				st.LastError = errText(health.LastError(), bus.LastError())
			}
			return st
		}
		act := cluster.NewRedisActivity(client, c.RedisPrefix)
		p.activity = fallbackSink{primary: act, store: st, log: log}
		p.counter = fallbackCounter{primary: cluster.NewRedisCounter(client, c.RedisPrefix+"cnt:"), local: p.counter}
		p.replay = cluster.NewRedisCounter(client, c.RedisPrefix+"cnt:")
		p.elector = cluster.NewRedisElector(client, c.RedisPrefix+"lead:")
		mover := &cluster.ActivityMover{Activity: act, Touch: st.TouchSessions, Logger: log, Clock: c.clock}
		p.runners = append(p.runners, func(ctx context.Context) {
			p.leader(ctx, "last-seen-mover", func(ctx context.Context) error { return mover.Run(ctx, 0) })
		})
	case pg != nil:
		bus, err := cluster.NewPostgresBus(ctx, pg.Pool(), "msm_bus", p.instance, log)
		if err != nil {
			return nil, fmt.Errorf("postgres bus: %w", err)
		}
		p.closers = append(p.closers, func() { _ = bus.Close() })
		p.runners = append(p.runners, func(ctx context.Context) { _ = bus.Run(ctx) })
		p.bus = bus
		p.reconnects = append(p.reconnects, bus.OnReconnect)
		p.status = func() sm.SharedStatus {
			st := sm.SharedStatus{Bus: "postgres", Healthy: bus.Healthy()}
			if !st.Healthy {
				st.LastError = errText(bus.LastError())
			}
			return st
		}
		el, err := cluster.NewPostgresElector(ctx, pg.Pool())
		if err != nil {
			return nil, fmt.Errorf("postgres leader election: %w", err)
		}
		p.elector = el
	default:
		p.bus = sm.NewLocalBus(log)
	}
	return p, nil
}

// errText is the text of the first non-nil error ("" when none).
func errText(errs ...error) string {
	for _, err := range errs {
		if err != nil {
			return err.Error()
		}
	}
	return ""
}
