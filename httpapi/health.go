package httpapi

import (
	"context"
	"net/http"
	"time"
)

func (s *server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]any{"status": "ok", "version": s.Version})
	})
}

func (s *server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := s.Ready(ctx); err != nil {
				s.log.Warn("not ready", "err", err)
				encode(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "store unreachable"})
				return
			}
		}
		// The shared link's mode and health, never its error text (this
		// answer is public). Ready either way: Redis down is the fail-open
		// or fail-closed mode's business (SM_REDIS_FAILURE), not a reason to
		// pull every instance out of the load balancer at once.
		body := map[string]any{"status": "ready"}
		if s.Core.Status != nil {
			body["shared"] = s.Core.Status.SharedStatus()
		}
		encode(w, http.StatusOK, body)
	})
}
