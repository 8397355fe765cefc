package cluster

import (
	"context"
	"testing"
	"time"
)

func TestHealthTracksRedis(t *testing.T) {
	ctx := context.Background()
	proxy, viaProxy := redisViaProxy(t)
	viaProxy.MaxRetries = -1
	h := NewHealth(newRedisFromOptions(t, viaProxy), 20*time.Millisecond, nil)
	if h.Healthy() {
		t.Fatal("unhealthy until the first check")
	}
	back := make(chan struct{}, 10)
	h.OnReconnect(func() { back <- struct{}{} })
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go h.Run(runCtx)
	recv(t, back, "first successful check")
	if !h.Healthy() {
		t.Fatal("should be healthy")
	}

	proxy.stop() // Redis "goes away" for this client only
	eventually(t, "unhealthy", func() bool { return !h.Healthy() })
	if h.LastError() == nil {
		t.Fatal("LastError should say why")
	}
	proxy.restart()
	recv(t, back, "OnReconnect once Redis answers again")
	if !h.Healthy() {
		t.Fatal("should be healthy again")
	}
}

func TestHealthClosedPort(t *testing.T) {
	opt, _ := ParseRedisURL("redis://127.0.0.1:1/0")
	h := NewHealth(newRedisFromOptions(t, opt.Single), time.Second, nil)
	if err := h.Check(context.Background()); err == nil || h.Healthy() {
		t.Fatalf("check = %v, healthy = %v; want an error", err, h.Healthy())
	}
}
