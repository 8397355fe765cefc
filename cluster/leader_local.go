package cluster

import (
	"context"
	"sync"
	"time"
)

// LocalElector elects within one process: the single-instance default,
// where this instance always leads, but one job per name still runs once.
type LocalElector struct {
	mu      sync.Mutex
	held    map[string]*localLease
	fencing map[string]int64
}

// NewLocalElector returns an in-process Elector.
func NewLocalElector() *LocalElector {
	return &LocalElector{held: map[string]*localLease{}, fencing: map[string]int64{}}
}

// Elect grants name unless a live lease of this process holds it; the ttl
// is not needed, a process does not lose itself.
func (e *LocalElector) Elect(_ context.Context, name string, _ time.Duration) (Lease, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[name] != nil {
		return nil, false, nil
	}
	e.fencing[name]++
	l := &localLease{elector: e, name: name, fencing: e.fencing[name]}
	e.held[name] = l
	return l, true, nil
}

type localLease struct {
	elector *LocalElector
	name    string
	fencing int64
}

func (l *localLease) Fencing() int64 { return l.fencing }

func (l *localLease) Renew(context.Context) error {
	l.elector.mu.Lock()
	defer l.elector.mu.Unlock()
	if l.elector.held[l.name] != l {
		return ErrLeaseLost
	}
	return nil
}

func (l *localLease) Release(context.Context) error {
	l.elector.mu.Lock()
	defer l.elector.mu.Unlock()
	if l.elector.held[l.name] == l {
		delete(l.elector.held, l.name)
	}
	return nil
}
