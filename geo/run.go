package geo

import (
	"context"
	"time"
)

// Run keeps the data fresh until ctx ends: every ReloadInterval it reopens
// changed local files (databases, ASN CSVs, file lists); every
// RefreshInterval it downloads the URL lists. URL lists whose last good copy
// is older than RefreshInterval are refreshed at once.
func (r *Resolver) Run(ctx context.Context) error {
	r.refreshURLs(ctx, false)
	reload := time.NewTicker(r.cfg.ReloadInterval)
	defer reload.Stop()
	refresh := time.NewTicker(r.cfg.RefreshInterval)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload.C:
			r.ReloadFiles()
		case <-refresh.C:
			r.refreshURLs(ctx, true)
		}
	}
}

// ReloadFiles reopens every local file whose mtime or size changed. A file
// that fails to load keeps its previous version (and is retried next time).
func (r *Resolver) ReloadFiles() {
	if r.closed.Load() {
		return
	}
	for _, db := range r.dbs {
		if changed, err := db.reloadIfChanged(r.cfg.CloseGrace); err != nil {
			r.log.Warn("geo: database reload failed; keeping the old one", "path", db.path, "err", err)
		} else if changed {
			r.log.Info("geo: database reloaded", "path", db.path)
		}
	}
	for _, a := range r.asns {
		if changed, err := a.reloadIfChanged(); err != nil {
			r.log.Warn("geo: ASN CSV reload failed; keeping the old one", "path", a.path, "err", err)
		} else if changed {
			r.log.Info("geo: ASN CSV reloaded", "path", a.path)
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

// RefreshLists downloads every URL list now. A failed or empty download
// keeps the last good copy.
func (r *Resolver) RefreshLists(ctx context.Context) { r.refreshURLs(ctx, true) }

func (r *Resolver) refreshURLs(ctx context.Context, all bool) {
	if r.closed.Load() {
		return
	}
	for _, l := range r.lists {
		changed := false
		for _, s := range l.sources {
			if !s.isURL {
				continue
			}
			if !all {
				s.mu.Lock()
				fresh := time.Since(s.lastRefresh) < r.cfg.RefreshInterval
				s.mu.Unlock()
				if fresh {
					continue
				}
			}
			ok, err := s.refreshURL(ctx, r.cfg.HTTPClient)
			if err != nil {
				s.setErr(err)
				r.log.Warn("geo: list refresh failed; keeping the last good copy", "kind", l.kind, "url", s.origin, "err", err)
				continue
			}
			if ok {
				r.log.Info("geo: list refreshed", "kind", l.kind, "url", s.origin, "entries", len(s.snapshot()))
			}
			changed = changed || ok
		}
		if changed {
			l.rebuild()
		}
	}
}
