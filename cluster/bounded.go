package cluster

import "time"

// keyBound keeps an in-memory map of keys small: sweeps at most once per
// sweepEvery (sooner when full) and, past maxKeys, drops an arbitrary key,
// so a flood of distinct keys cannot exhaust memory.
type keyBound struct {
	maxKeys   int
	lastSweep time.Time
}

// sweep deletes the entries stale reports, when a sweep is due.
func sweepMap[V any](b *keyBound, m map[string]V, now time.Time, stale func(V) bool) {
	if now.Sub(b.lastSweep) < sweepEvery && len(m) < b.maxKeys {
		return
	}
	b.lastSweep = now
	for k, v := range m {
		if stale(v) {
			delete(m, k)
		}
	}
}

// makeRoom drops an arbitrary entry when adding key would pass maxKeys.
func makeRoom[V any](b *keyBound, m map[string]V, key string) {
	if _, ok := m[key]; ok || len(m) < b.maxKeys {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}
