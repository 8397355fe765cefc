package geo

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/geo/builtin"
	"github.com/magic-sessionmanager/sessionmanager/geo/internal/rangefile"
)

// Resolver answers geo and threat lookups from local data. It is safe for
// concurrent use; data is swapped atomically under running lookups.
type Resolver struct {
	cfg       Config
	log       *slog.Logger
	dbs       []*dbSource
	asns      []*asnSource
	tor       *threatList
	vpn       *threatList
	proxy     *threatList
	dc        *threatList
	threat    *threatList
	lists     []*threatList
	builtin   *rangefile.DB // nil when Config.NoBuiltin
	closeOnce sync.Once
	closed    atomic.Bool // stops reloads after Close
}

var _ sm.GeoResolver = (*Resolver)(nil)

// Open loads every configured source. A missing file, a bad database or a
// list file in no supported format is an error naming the file. A URL list
// or feed loads its cached last good copy, if any; nothing is downloaded
// here, so start-up never waits for the network: Run downloads in the
// background (at once for a list with no copy, whose status says "not
// downloaded yet" until then).
func Open(ctx context.Context, cfg Config) (*Resolver, error) {
	cfg = cfg.withDefaults()
	r := &Resolver{cfg: cfg, log: cfg.Logger}
	if info := builtin.Info(); cfg.NoBuiltin {
		r.log.Warn("geo: built-in country and ASN data turned off (SM_GEO_BUILTIN=off): only configured files answer",
			"files", len(cfg.DBPaths)+len(cfg.ASNCSV))
	} else {
		r.builtin = builtin.DB()
		r.log.Info("geo: built-in country and ASN data", "snapshot", info.Date.Format(time.DateOnly),
			"countryRanges", info.Country.Ranges, "asnRanges", info.ASN.Ranges)
	}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	for _, p := range cfg.DBPaths {
		h, err := openDB(p)
		if err != nil {
			return nil, err
		}
		s := &dbSource{path: p}
		s.current.Store(h)
		r.dbs = append(r.dbs, s)
	}
	for _, p := range cfg.ASNCSV {
		t, err := loadASNCSV(p)
		if err != nil {
			return nil, err
		}
		s := &asnSource{path: p}
		s.current.Store(t)
		r.asns = append(r.asns, s)
	}
	var err error
	if r.tor, err = r.openList(KindTor, cfg.TorExits); err != nil {
		return nil, err
	}
	if r.vpn, err = r.openList(KindVPN, cfg.VPNRanges); err != nil {
		return nil, err
	}
	if r.proxy, err = r.openList(KindProxy, cfg.ProxyRanges); err != nil {
		return nil, err
	}
	if r.dc, err = r.openList(KindDatacenter, cfg.DatacenterRanges); err != nil {
		return nil, err
	}
	if r.threat, err = r.openList(KindThreat, cfg.ThreatRanges); err != nil {
		return nil, err
	}
	ok = true
	return r, nil
}

// openList opens the files and URLs of one kind and the default feeds
// that flag it.
func (r *Resolver) openList(kind string, origins []string) (*threatList, error) {
	l := &threatList{kind: kind}
	refresh := DefaultRefreshInterval
	if kind == KindTor {
		refresh = DefaultTorRefreshInterval
	}
	for _, o := range origins {
		s, err := newListSource(kind, o, r.cfg.CacheDir)
		if err != nil {
			return nil, err
		}
		s.now = r.cfg.Clock.Now
		if s.isURL && r.cfg.NoDownloads {
			return nil, sm.Errorf(sm.EINVALID, "geo: %s list %s: downloads are turned off (SM_THREAT_FEEDS=off)", kind, s.shown)
		}
		s.refresh = refresh
		if !s.isURL {
			if err := s.loadFile(); err != nil {
				return nil, err
			}
		}
		l.sources = append(l.sources, s)
	}
	for _, f := range r.cfg.Feeds {
		if f.Kind != kind {
			continue
		}
		if r.cfg.NoDownloads && f.Disabled == "" {
			f.Disabled = "SM_THREAT_FEEDS=off"
		}
		s, err := newFeedSource(f, r.cfg.CacheDir)
		if err != nil {
			return nil, err
		}
		s.now = r.cfg.Clock.Now
		l.sources = append(l.sources, s)
	}
	now := r.cfg.Clock.Now()
	for _, s := range l.sources {
		if !s.isURL || s.disabled != "" {
			continue
		}
		if r.cfg.RefreshInterval > 0 {
			s.refresh = r.cfg.RefreshInterval
		}
		if s.loadCache() {
			r.log.Info("geo: list loaded from cache", "kind", kind, "name", s.name, "url", s.shown, "entries", len(s.snapshot()))
		}
		s.scheduleFirst(now, rand.Int64N)
	}
	l.rebuild()
	r.lists = append(r.lists, l)
	return l, nil
}

// Lookup resolves ip. Local addresses (private, loopback, CGNAT,
// documentation...) answer Location{Local: true} with no lookup. Sources
// answer in layers: the databases (in configured order), then the ASN CSV
// files, then the built-in data; a field an upper layer filled is kept. An
// unknown address is Found=false with a nil error; an error is a failed read.
func (r *Resolver) Lookup(ctx context.Context, ip netip.Addr) (sm.GeoResult, error) {
	var res sm.GeoResult
	if !ip.IsValid() {
		return res, sm.Errorf(sm.EINVALID, "geo: invalid IP address")
	}
	ip = ip.Unmap().WithZone("")
	if IsLocal(ip) {
		res.Location.Local = true
		return res, nil
	}
	for _, db := range r.dbs {
		if err := db.lookup(ip, &res); err != nil {
			r.log.Error("geo: lookup failed", "db", db.path, "err", err)
			return sm.GeoResult{}, sm.Errorf(sm.EINTERNAL, "geo: lookup failed")
		}
	}
	for _, a := range r.asns {
		a.lookup(ip, &res)
	}
	r.builtinLookup(ip, &res)
	r.threatFlags(ip, &res)
	loc := &res.Location
	if loc.CountryCode != "" {
		if loc.CountryName == "" {
			loc.CountryName, _ = sm.CountryName(loc.CountryCode)
		}
		loc.Flag = sm.FlagEmoji(loc.CountryCode)
	}
	return res, nil
}

// builtinLookup fills the fields that the configured sources left empty
// from the built-in data: the lowest layer.
func (r *Resolver) builtinLookup(ip netip.Addr, res *sm.GeoResult) {
	if r.builtin == nil || r.closed.Load() {
		return
	}
	loc := &res.Location
	if loc.CountryCode == "" {
		if cc := r.builtin.Country(ip); cc != "" {
			loc.CountryCode, loc.CountryName = cc, ""
			res.Found = true
		}
	}
	if loc.ASN == 0 {
		if asn, org := r.builtin.ASN(ip); asn != 0 {
			loc.ASN = asn
			if loc.ISP == "" {
				loc.ISP = org
			}
			res.Found = true
		}
	}
}

// threatFlags adds the list and built-in ASN flags to what the databases said.
func (r *Resolver) threatFlags(ip netip.Addr, res *sm.GeoResult) {
	t := &res.Threat
	t.Tor = t.Tor || r.tor.contains(ip)
	t.VPN = t.VPN || r.vpn.contains(ip)
	t.Proxy = t.Proxy || r.proxy.contains(ip)
	t.Datacenter = t.Datacenter || r.dc.contains(ip)
	t.KnownThreat = t.KnownThreat || r.threat.contains(ip)
	if asn := res.Location.ASN; asn != 0 {
		switch knownASNIndex[asn] {
		case ASNHosting:
			t.Datacenter = true
		case ASNVPN:
			t.VPN, t.Datacenter = true, true
		}
	}
}

// Close releases the data; stop Run first. Lookups after Close answer
// Found=false with no threat flags.
func (r *Resolver) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		for _, db := range r.dbs {
			db.close()
		}
		for _, a := range r.asns {
			a.current.Store(nil)
		}
		for _, l := range r.lists {
			l.table.Store(nil)
		}
	})
	return nil
}
