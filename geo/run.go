package geo

import (
	"context"
	"sync"
	"time"
)

// maxParallelDownloads bounds the feeds downloaded at once.
const maxParallelDownloads = 4

// Run keeps the data fresh until ctx ends: every ReloadInterval it reopens
// changed local files (databases, ASN CSVs, file lists); each URL list and
// feed is downloaded when it comes due (its refresh interval +/- 10%; at
// once when it has no copy or a stale one; sooner after a failure). The
// two run apart, so a slow download never delays a file reload. Every
// instance of a cluster downloads for itself (docs/GEO.md says why).
func (r *Resolver) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		reload, tick := r.cfg.Clock.NewTicker(r.cfg.ReloadInterval)
		defer reload.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				r.ReloadFiles()
			}
		}
	})
	wg.Go(func() {
		timer, fired := r.cfg.Clock.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-fired:
				next := r.refreshURLs(ctx, false)
				wait := time.Hour
				if !next.IsZero() {
					wait = max(next.Sub(r.cfg.Clock.Now()), time.Second)
				}
				timer.Reset(wait)
			}
		}
	})
	wg.Wait()
	return nil
}

// ReloadFiles reopens every local file whose mtime or size changed. A file
// that fails to load keeps its previous version (and is retried next time).
func (r *Resolver) ReloadFiles() {
	if r.closed.Load() {
		return
	}
	for _, db := range r.dbs {
		changed, err := db.reloadIfChanged(r.cfg.CloseGrace)
		if err != nil {
			r.log.Warn("geo: database reload failed; keeping the old one", "path", db.path, "err", err)
		} else if changed {
			r.log.Info("geo: database reloaded", "path", db.path)
		}
		if err != nil || changed {
			db.status.record(err)
		}
	}
	for _, a := range r.asns {
		changed, err := a.reloadIfChanged()
		if err != nil {
			r.log.Warn("geo: ASN CSV reload failed; keeping the old one", "path", a.path, "err", err)
		} else if changed {
			r.log.Info("geo: ASN CSV reloaded", "path", a.path)
		}
		if err != nil || changed {
			a.status.record(err)
		}
	}
	for _, l := range r.lists {
		changed := false
		for _, s := range l.sources {
			if s.isURL {
				continue
			}
			ok, err := s.reloadFileIfChanged()
			if err != nil {
				s.setErr(err)
				r.log.Warn("geo: list reload failed; keeping the old one", "kind", l.kind, "path", s.origin, "err", err)
			}
			changed = changed || ok
		}
		if changed {
			l.rebuild()
		}
	}
}

// RefreshLists downloads every enabled URL list and feed now. A failed,
// empty, truncated or malformed download keeps the last good copy.
func (r *Resolver) RefreshLists(ctx context.Context) { r.refreshURLs(ctx, true) }

// refreshURLs downloads the lists that are due (all of them with all), a
// few at a time, and returns when the next one comes due (zero: none to
// download). A list's table is rebuilt as soon as one of its sources
// changed.
func (r *Resolver) refreshURLs(ctx context.Context, all bool) (next time.Time) {
	if r.closed.Load() {
		return time.Time{}
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallelDownloads)
	for _, l := range r.lists {
		for _, s := range l.sources {
			due, ok := s.dueAt()
			if !ok || (!all && r.cfg.Clock.Now().Before(due)) {
				continue
			}
			wg.Go(func() {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-slots }()
				r.download(ctx, l, s)
			})
		}
	}
	wg.Wait()
	for _, l := range r.lists {
		for _, s := range l.sources {
			if due, ok := s.dueAt(); ok && (next.IsZero() || due.Before(next)) {
				next = due
			}
		}
	}
	return next
}

// download refreshes one source of l and rebuilds l's table when it changed.
func (r *Resolver) download(ctx context.Context, l *threatList, s *listSource) {
	s.fetching.Lock()
	defer s.fetching.Unlock()
	changed, err := s.refreshURL(ctx, r.cfg.HTTPClient)
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: not a feed failure worth a WARN.
	case err != nil:
		r.log.Warn("geo: list download failed; keeping the last good copy", "kind", l.kind, "name", s.name, "url", s.shown, "err", err)
	case changed:
		r.log.Info("geo: list downloaded", "kind", l.kind, "name", s.name, "url", s.shown, "entries", len(s.snapshot()))
	}
	if changed && !r.closed.Load() {
		l.rebuild()
	}
}

// dueAt is when s is to be downloaded next; false for a file or a
// disabled feed.
func (s *listSource) dueAt() (time.Time, bool) {
	if !s.isURL || s.disabled != "" {
		return time.Time{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next, true
}
