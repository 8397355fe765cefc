package geo

import (
	"context"
	"time"
)

// Run keeps the data fresh until ctx ends: every ReloadInterval it reopens
// changed local files (databases, ASN CSVs, file lists); each URL list and
// feed is downloaded when it comes due (its refresh interval +/- 10%; at
// once when it has no copy or a stale one; sooner after a failure). Every
// instance of a cluster downloads for itself (docs/GEO.md says why).
func (r *Resolver) Run(ctx context.Context) error {
	reload := time.NewTicker(r.cfg.ReloadInterval)
	defer reload.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload.C:
			r.ReloadFiles()
		case <-timer.C:
			next := r.refreshURLs(ctx, false)
			if ctx.Err() != nil {
				return nil
			}
			wait := time.Hour
			if !next.IsZero() {
				wait = max(time.Until(next), time.Second)
			}
			timer.Reset(wait)
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

// RefreshLists downloads every enabled URL list and feed now. A failed,
// empty, truncated or malformed download keeps the last good copy.
func (r *Resolver) RefreshLists(ctx context.Context) { r.refreshURLs(ctx, true) }

// refreshURLs downloads the lists that are due (all of them with all) and
// returns when the next one comes due (zero: none to download).
func (r *Resolver) refreshURLs(ctx context.Context, all bool) (next time.Time) {
	if r.closed.Load() {
		return time.Time{}
	}
	for _, l := range r.lists {
		changed := false
		for _, s := range l.sources {
			if !s.isURL || s.disabled != "" || ctx.Err() != nil {
				continue
			}
			s.mu.Lock()
			due := s.next
			s.mu.Unlock()
			if all || !time.Now().Before(due) {
				ok, err := s.refreshURL(ctx, r.cfg.HTTPClient)
				switch {
				case err != nil && ctx.Err() != nil:
					// Shutting down: not a feed failure worth a WARN.
				case err != nil:
					r.log.Warn("geo: list download failed; keeping the last good copy", "kind", l.kind, "name", s.name, "url", s.shown, "err", err)
				case ok:
					r.log.Info("geo: list downloaded", "kind", l.kind, "name", s.name, "url", s.shown, "entries", len(s.snapshot()))
				}
				changed = changed || ok
				s.mu.Lock()
				due = s.next
				s.mu.Unlock()
			}
			if next.IsZero() || due.Before(next) {
				next = due
			}
		}
		if changed && !r.closed.Load() {
			l.rebuild()
		}
	}
	return next
}
