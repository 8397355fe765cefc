package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's cost per request depends on how often it runs:
// with Go's default GOGC=100 a collection starts each time the heap has
// grown by its live size. A session manager's live heap is small and
// pointer-dense (the user-agent parser's trie alone is ~8 MB), so at the
// request rates of forward auth it collected every few thousand requests
// and spent ~17% of the server's CPU marking (docs/PERFORMANCE.md, round 2).
// gcHeadroom gives the heap at least `headroom` bytes of growth between
// collections: GOGC is raised while the live heap is small (15 MB live, 64
// MB headroom: GOGC=426).
//
// A large live heap is the other way round: it is the caches of a million
// sessions, long-lived, and the garbage per request stays small, so
// letting the heap double before a collection (Go's default) doubles the
// instance's memory for nothing (a million sessions: 300 MB live, 625-759
// MB resident, round 4). From a live heap of headroom*100/growth up, the
// heap grows by `growth` percent of it instead (SM_GC_GROWTH_PERCENT, 35:
// a million sessions stay under 600 MB resident; 50 peaked at 608 MB,
// docs/PERFORMANCE.md round 6). The cost is collections more often per
// byte allocated: 100/growth times Go's default, ~2.9 at 35.
//
// A GOGC or GOMEMLIMIT the operator sets wins: with GOGC set this does
// nothing, and GOMEMLIMIT still caps the heap.

const gcTuneEvery = time.Second

// gcPercentFor is the GOGC that gives a heap at least headroom bytes of
// growth, and otherwise growth percent of what it scans. scanned is what
// the runtime multiplies GOGC by: the live heap plus goroutine stacks and
// globals (Go 1.18's pacer), so thousands of keep-alive connections'
// stacks do not multiply the headroom.
func gcPercentFor(scanned, headroom int64, growth int) int {
	if scanned <= 0 || headroom <= 0 {
		return growth
	}
	p := int(headroom * 100 / scanned)
	return max(p, growth)
}

// runGCHeadroom adjusts GOGC once a second from the scanned memory until ctx
// ends, then restores the percent it found. It changes it only when the
// new value differs by more than a tenth, so a steady heap sets it once.
func runGCHeadroom(ctx context.Context, headroom int64, growth int, log *slog.Logger) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	current := growth
	prev := debug.SetGCPercent(growth)
	defer debug.SetGCPercent(prev)
	t := time.NewTicker(gcTuneEvery)
	defer t.Stop()
	for {
		metrics.Read(sample)
		var scanned int64
		for _, s := range sample {
			if s.Value.Kind() == metrics.KindUint64 {
				scanned += int64(s.Value.Uint64())
			}
		}
		if want := gcPercentFor(scanned, headroom, growth); scanned > 0 {
			if d := want - current; d*10 > current || -d*10 > current {
				debug.SetGCPercent(want)
				log.Debug("gc headroom: GOGC adjusted", "gogc", want, "scanned_bytes", scanned)
				current = want
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
