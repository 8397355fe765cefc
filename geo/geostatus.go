package geo

import (
	"path/filepath"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

var _ sm.GeoStatusReporter = (*Resolver)(nil)

// notDownloadedYet is the status of a feed with no copy before its first
// download attempt.
const notDownloadedYet = "not downloaded yet"

// GeoStatus describes every configured database, ASN file, list and feed
// (default feeds that configuration turned off included, disabled, with
// the reason in LastError). Feeds is false when downloads are off.
func (r *Resolver) GeoStatus() sm.GeoStatus {
	var sources []sm.GeoSource
	for _, st := range r.Status() {
		switch st.Kind {
		case "mmdb":
			sources = append(sources, mmdbSource(st))
		case "asn-csv":
			sources = append(sources, sm.GeoSource{
				Name: filepath.Base(st.Origin), Provides: []string{sm.GeoASN}, Origin: st.Origin, Format: "asn-csv",
				Records: st.Entries, DataDate: st.LastRefresh, LastAttempt: st.LastRefresh, LastError: st.LastError, Enabled: true,
			})
		}
	}
	for _, l := range r.lists {
		for _, s := range l.sources {
			sources = append(sources, s.geoSource())
		}
	}
	return sm.NewGeoStatus(sources, !r.cfg.NoDownloads)
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
		g.LastError = "disabled: " + s.disabled
		g.RefreshInterval = 0
	case s.isURL && len(s.prefixes) == 0 && s.lastAttempt.IsZero():
		g.LastError = notDownloadedYet
	}
	return g
}

// mmdbSource is the admin view of a database: what its layout provides
// and, for the well-known free databases, their licence.
func mmdbSource(st SourceStatus) sm.GeoSource {
	g := sm.GeoSource{
		Name: filepath.Base(st.Origin), Origin: st.Origin, Format: "mmdb", Records: st.Entries,
		DataDate: st.BuildTime, LastAttempt: st.LastRefresh, LastError: st.LastError, Enabled: true,
	}
	switch st.Layout {
	case LayoutCity, LayoutFlatCity:
		g.Provides = []string{sm.GeoCountry, sm.GeoCity}
	case LayoutCountry:
		g.Provides = []string{sm.GeoCountry}
	case LayoutASN, LayoutISP:
		g.Provides = []string{sm.GeoASN}
	case LayoutAnonymous:
		g.Provides = []string{sm.GeoVPN, sm.GeoProxy, sm.GeoTor, sm.GeoDatacenter}
	}
	t := strings.ToLower(st.DatabaseType)
	switch {
	case strings.Contains(t, "geolite2"):
		g.License, g.Attribution, g.AttributionURL = "GeoLite2 EULA, CC BY-SA 4.0", "This product includes GeoLite2 data created by MaxMind", "https://www.maxmind.com"
	case strings.Contains(t, "geoip2"):
		g.License, g.Attribution, g.AttributionURL = "MaxMind GeoIP2 licence", "MaxMind", "https://www.maxmind.com"
	case strings.Contains(t, "dbip") || strings.Contains(t, "db-ip"):
		g.License, g.Attribution, g.AttributionURL = "CC BY 4.0", "IP Geolocation by DB-IP", "https://db-ip.com"
	}
	if g.DataDate.IsZero() {
		g.DataDate = st.LastRefresh
	}
	return g
}
