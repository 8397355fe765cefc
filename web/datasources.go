package web

import (
	"net/http"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// dataSourcesData is the "Data sources" page: every geo and threat source,
// what the product can tell from them, and what is on but cannot work.
type dataSourcesData struct {
	Sources      []sourceView
	Capabilities []capabilityView
	Feeds        bool
	// DBIP is set when a source uses DB-IP data, whose licence (CC BY 4.0)
	// requires a visible link to db-ip.com.
	DBIP bool
	// Shared is the link the instances share (bus, Redis mode, health).
	Shared sm.SharedStatus
}

// sourceView is one source row.
type sourceView struct {
	sm.GeoSource
	Provides    []string
	Refresh     string // "every 1h0m0s", "never"
	RecordsText string
}

// capabilityView is one capability and whether a source provides it.
type capabilityView struct {
	Key, Label, Use string
	Have            bool
}

// capabilityLabels says what each capability is and what uses it.
var capabilityLabels = []struct{ key, label, use string }{
	{sm.GeoCountry, "Country", "location, geo-fencing, new-country signals and alerts"},
	{sm.GeoCity, "City and coordinates", "the map, impossible travel"},
	{sm.GeoASN, "ASN and ISP", "the ISP column, hosting-network detection"},
	{sm.GeoTor, "Tor exits", "the Tor policy and alerts"},
	{sm.GeoVPN, "VPN ranges", "the VPN policy and alerts"},
	{sm.GeoProxy, "Proxies", "the proxy policy and alerts"},
	{sm.GeoDatacenter, "Datacenter / hosting", "the datacenter policy and alerts"},
	{sm.GeoThreat, "Known threats", "the known-threat policy and alerts"},
}

func (s *server) dataSourcesData() dataSourcesData {
	st := s.d.Core.Status.GeoStatus()
	d := dataSourcesData{Feeds: st.Feeds, Shared: s.d.Core.Status.SharedStatus()}
	for _, src := range st.Sources {
		v := sourceView{GeoSource: src, Refresh: "never", RecordsText: formatCount(int64(src.Records))}
		if src.RefreshInterval > 0 {
			v.Refresh = "every " + time.Duration(src.RefreshInterval).String()
		}
		for _, c := range src.Provides {
			v.Provides = append(v.Provides, capabilityLabel(c))
		}
		d.Sources = append(d.Sources, v)
		if isDBIP(src) {
			d.DBIP = true
		}
	}
	for _, c := range capabilityLabels {
		d.Capabilities = append(d.Capabilities, capabilityView{Key: c.key, Label: c.label, Use: c.use, Have: st.Has(c.key)})
	}
	return d
}

func capabilityLabel(c string) string {
	for _, l := range capabilityLabels {
		if l.key == c {
			return l.label
		}
	}
	return c
}

// isDBIP reports whether a source carries DB-IP data.
func isDBIP(src sm.GeoSource) bool {
	for _, f := range []string{src.Attribution, src.AttributionURL, src.License, src.Origin, src.Name} {
		if strings.Contains(strings.ToLower(f), "db-ip") {
			return true
		}
	}
	return false
}

func (s *server) handleDataSources(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "data", "Data sources", "data", s.dataSourcesData())
}
