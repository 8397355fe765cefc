package cluster

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Health tracks whether Redis answers, with a PING every interval, so the
// app can apply its fail-open or fail-closed policy (docs/CLUSTER.md).
// OnReconnect hooks run when Redis answers again after a failure.
type Health struct {
	link
	client   *redis.Client
	interval time.Duration
	timeout  time.Duration
	logger   *slog.Logger
}

// NewHealth returns a probe of client; interval 0 means 2s. It reports
// unhealthy until its first successful check.
func NewHealth(client *redis.Client, interval time.Duration, logger *slog.Logger) *Health {
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
	err := h.client.Ping(pingCtx).Err()
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
