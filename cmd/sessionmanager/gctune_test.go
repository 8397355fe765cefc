package main

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, headroom int64
		want           int
	}{
		{15 * mb, 64 * mb, 426},  // a small live heap gets 64 MB to grow
		{64 * mb, 64 * mb, 100},  // from the headroom up, Go's default
		{300 * mb, 64 * mb, 100}, // a million sessions: the default bound
		{0, 64 * mb, 100},        // nothing measured yet
		{15 * mb, 0, 100},        // off
	} {
		if got := gcPercentFor(c.live, c.headroom, 100); got != c.want {
			t.Errorf("gcPercentFor(%d MB, %d MB) = %d, want %d", c.live/mb, c.headroom/mb, got, c.want)
		}
	}
}

// The tuner raises GOGC for this test process's small heap and gives the
// previous value back when it stops.
func TestRunGCHeadroomSetsAndRestores(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runGCHeadroom(ctx, 4<<30, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		if p > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC stayed %d with a 4 GB headroom", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GOGC after the tuner stopped = %d, want the previous 100", p)
	}
}

func TestGCHeadroomConfig(t *testing.T) {
	for v, ok := range map[string]bool{"0": true, "64": true, "4096": true, "-1": false, "4097": false, "lots": false} {
		_, err := loadConfig(func(k string) string {
			if k == "SM_GC_HEADROOM_MB" {
				return v
			}
			return ""
		}, nil)
		if (err == nil) != ok {
			t.Errorf("SM_GC_HEADROOM_MB=%s: err %v, want ok=%v", v, err, ok)
		}
	}
}
