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
		growth         int
		want           int
	}{
		{15 * mb, 64 * mb, 35, 426},   // a small live heap gets 64 MB to grow
		{64 * mb, 64 * mb, 35, 100},   // at the headroom, the headroom
		{128 * mb, 64 * mb, 35, 50},   // then still the headroom
		{200 * mb, 64 * mb, 35, 35},   // from headroom*100/growth up, growth percent
		{300 * mb, 64 * mb, 35, 35},   // a million sessions: a third of the live heap, not all of it
		{300 * mb, 64 * mb, 100, 100}, // SM_GC_GROWTH_PERCENT=100: Go's default bound
		{0, 64 * mb, 35, 35},          // nothing measured yet
		{15 * mb, 0, 35, 35},          // no headroom: growth alone
	} {
		if got := gcPercentFor(c.live, c.headroom, c.growth); got != c.want {
			t.Errorf("gcPercentFor(%d MB, %d MB, %d%%) = %d, want %d", c.live/mb, c.headroom/mb, c.growth, got, c.want)
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
	go func() { runGCHeadroom(ctx, 4<<30, 100, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
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
	load := func(name, v string) (*config, error) {
		return loadConfig(func(k string) string {
			if k == name {
				return v
			}
			return ""
		}, nil)
	}
	for name, values := range map[string]map[string]bool{
		"SM_GC_HEADROOM_MB":    {"0": true, "64": true, "4096": true, "-1": false, "4097": false, "lots": false},
		"SM_GC_GROWTH_PERCENT": {"10": true, "50": true, "1000": true, "9": false, "1001": false, "half": false},
	} {
		for v, ok := range values {
			if _, err := load(name, v); (err == nil) != ok {
				t.Errorf("%s=%q: err %v, want ok=%v", name, v, err, ok)
			}
		}
	}
	c, err := load("", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.GCHeadroom != 64<<20 || c.GCGrowth != 35 {
		t.Errorf("defaults: headroom %d, growth %d; want 64 MB and 35", c.GCHeadroom, c.GCGrowth)
	}
}
