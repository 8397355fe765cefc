package geo

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/geo/builtin"
)

var _ sm.GeoStatusReporter = (*Resolver)(nil)

// notDownloadedYet is the status of a feed with no copy before its first
// download attempt.
const notDownloadedYet = "not downloaded yet"

// Names of the built-in sources in GeoStatus.
const (
	SourceBuiltinCountry = "builtin-country"
	SourceBuiltinASN     = "builtin-asn"
	SourceHostingASN     = "builtin-hosting-asn"
)

// layoutProvides is what each database layout can tell.
var layoutProvides = map[Layout][]string{
	LayoutCity:      {sm.GeoCountry, sm.GeoCity},
	LayoutCountry:   {sm.GeoCountry},
	LayoutFlatCity:  {sm.GeoCountry, sm.GeoCity},
	LayoutASN:       {sm.GeoASN},
	LayoutISP:       {sm.GeoASN},
	LayoutAnonymous: {sm.GeoVPN, sm.GeoProxy, sm.GeoTor, sm.GeoDatacenter},
}

// GeoStatus describes every source: the configured databases and ASN
// files, every list and feed (default feeds that configuration turned off
// included, disabled, with the reason in Note), then the built-in
// country and ASN snapshot (listed as disabled when SM_GEO_BUILTIN=off) and
// the hosting ASN table. Feeds is false when downloads are off.
func (r *Resolver) GeoStatus() sm.GeoStatus {
	var sources []sm.GeoSource
	asnData := r.builtin != nil
	for _, db := range r.dbs {
		s := db.geoSource()
		asnData = asnData || s.Records > 0 && slices.Contains(s.Provides, sm.GeoASN)
		sources = append(sources, s)
	}
	for _, a := range r.asns {
		s := sm.GeoSource{Name: filepath.Base(a.path), Provides: []string{sm.GeoASN}, Origin: a.path, Format: "asn-csv", Enabled: true}
		if t := a.current.Load(); t != nil {
			// A file's data is as old as the file; LastAttempt is its load.
			s.Records, s.DataDate, s.LastAttempt = t.ranges, t.stat.mtime.UTC(), t.loaded
			asnData = true
		}
		a.status.read(&s)
		sources = append(sources, s)
	}
	for _, l := range r.lists {
		for _, s := range l.sources {
			sources = append(sources, s.geoSource())
		}
	}
	sources = append(sources, r.builtinSources()...)
	// The hosting/VPN ASN table flags datacenters through whichever source
	// gives the ASN: without one it has nothing to match.
	sources = append(sources, sm.GeoSource{
		Name: SourceHostingASN, Provides: []string{sm.GeoDatacenter}, Origin: "builtin", Format: "asn-list",
		Records: len(knownASNs), Enabled: asnData,
	})
	return sm.NewGeoStatus(sources, !r.cfg.NoDownloads)
}

// builtinSources describes the embedded snapshot: date, versions, counts,
// licence and attribution (DB-IP asks for a link to db-ip.com).
func (r *Resolver) builtinSources() []sm.GeoSource {
	info := builtin.Info()
	on := r.builtin != nil
	return []sm.GeoSource{{
		Name: SourceBuiltinCountry, Provides: []string{sm.GeoCountry}, Origin: "builtin",
		Format:  "embedded " + info.Country.Package + "@" + info.Country.Version,
		Records: info.Country.Ranges, DataDate: info.Date,
		License: builtin.CountryLicense, Attribution: builtin.CountryAttribution, AttributionURL: builtin.CountryAttributionURL,
		Enabled: on,
	}, {
		Name: SourceBuiltinASN, Provides: []string{sm.GeoASN}, Origin: "builtin",
		Format:  "embedded " + info.ASN.Package + "@" + info.ASN.Version,
		Records: info.ASN.Ranges, DataDate: info.Date,
		License: builtin.ASNLicense, Attribution: builtin.ASNAttribution, AttributionURL: builtin.ASNAttributionURL,
		Enabled: on,
	}}
}

// geoSource is the admin view of one list or feed.
func (s *listSource) geoSource() sm.GeoSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := sm.GeoSource{
		Name: s.name, Provides: []string{s.kind}, Origin: s.shown, Format: s.format, Records: len(s.prefixes),
		DataDate: s.lastRefresh, LastAttempt: s.lastAttempt, LastError: s.lastErr,
		License: s.license, Attribution: s.attrib, AttributionURL: s.attribURL, Enabled: s.disabled == "",
	}
	if s.isURL {
		g.RefreshInterval = sm.Duration(s.refresh)
	} else if !s.stat.mtime.IsZero() {
		// A file's data is as old as the file; LastAttempt is its load.
		g.DataDate, g.LastAttempt = s.stat.mtime, s.lastRefresh
	}
	switch {
	case s.disabled != "":
		g.Note = "disabled: " + s.disabled
		g.RefreshInterval = 0
	case s.isURL && len(s.prefixes) == 0 && s.lastAttempt.IsZero():
		g.Note = notDownloadedYet
	}
	return g
}

// geoSource is the admin view of a database: what its layout provides
// and, for the well-known free databases, their licence.
func (db *dbSource) geoSource() sm.GeoSource {
	g := sm.GeoSource{Name: filepath.Base(db.path), Origin: db.path, Format: "mmdb", Enabled: true}
	h := db.current.Load()
	if h == nil {
		db.status.read(&g)
		return g
	}
	md := h.reader.Metadata
	t := strings.ToLower(md.DatabaseType)
	g.Provides = layoutProvides[h.layout]
	if h.layout == LayoutFlatCity && strings.Contains(t, "country") {
		// ip-location-db country files share the flat layout, with no city.
		g.Provides = []string{sm.GeoCountry}
	}
	g.Records, g.DataDate, g.LastAttempt = int(md.NodeCount), md.BuildTime().UTC(), h.loaded
	if g.DataDate.IsZero() {
		g.DataDate = h.loaded
	}
	switch {
	// First: DB-IP Lite files name a MaxMind layout too ("DBIP-ASN-Lite
	// (compat=GeoLite2-ASN)"), and their licence asks for the DB-IP link.
	case strings.Contains(t, "dbip") || strings.Contains(t, "db-ip"):
		g.License, g.Attribution, g.AttributionURL = "CC BY 4.0", "IP Geolocation by DB-IP", "https://db-ip.com"
	case strings.Contains(t, "geolite2"):
		g.License, g.Attribution, g.AttributionURL = "GeoLite2 EULA, CC BY-SA 4.0", "This product includes GeoLite2 data created by MaxMind", "https://www.maxmind.com"
	case strings.Contains(t, "geoip2"):
		g.License, g.Attribution, g.AttributionURL = "MaxMind GeoIP2 licence", "MaxMind", "https://www.maxmind.com"
	}
	db.status.read(&g)
	return g
}

// reloadStatus is the last reload of a file source, failed or not, for
// GeoStatus (a failed reload keeps the old data).
type reloadStatus struct {
	mu      sync.Mutex
	attempt time.Time
	err     string
}

func (st *reloadStatus) record(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.attempt, st.err = time.Now(), ""
	if err != nil {
		st.err = err.Error()
	}
}

func (st *reloadStatus) read(s *sm.GeoSource) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.attempt.After(s.LastAttempt) {
		s.LastAttempt = st.attempt
	}
	s.LastError = st.err
}
