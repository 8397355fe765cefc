package cluster

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Health tracks whether Redis answers, with a PING every interval (to every
// master of a Redis Cluster), so the
// app can apply its fail-open or fail-closed policy (docs/CLUSTER.md).
// OnReconnect hooks run when Redis answers again after a failure.
type Health struct {
	link
	client   redis.UniversalClient
	interval time.Duration
	timeout  time.Duration
	logger   *slog.Logger
}

// NewHealth returns a probe of client; interval 0 means 2s. It reports
// unhealthy until its first successful check.
func NewHealth(client redis.UniversalClient, interval time.Duration, logger *slog.Logger) *Health {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return &Health{client: client, interval: interval, timeout: max(interval/2, 100*time.Millisecond), logger: orDiscard(logger)}
}

// Run checks at once, then every interval, until ctx is done.
func (h *Health) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		_ = h.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check pings Redis once and updates the state.
func (h *Health) Check(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	err := ping(pingCtx, h.client)
	was := h.Healthy()
	switch {
	case err != nil:
		if was {
			h.logger.Warn("cluster: redis unreachable", "err", err)
		}
		h.fail(err)
	case !was:
		if h.LastError() != nil {
			h.logger.Info("cluster: redis reachable again")
		}
		h.reconnected()
	}
	return err
}

// ping asks every master of a Redis Cluster (a shard without one cannot take
// the keys and channels of its slots), or the one server otherwise.
func ping(ctx context.Context, client redis.UniversalClient) error {
	if c, ok := client.(*redis.ClusterClient); ok {
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return m.Ping(ctx).Err()
		})
		if err != nil {
			c.ReloadState(ctx) // a replica may have taken over
		}
		return err
	}
	return client.Ping(ctx).Err()
}
