package geo

import "time"

// SourceStatus describes one configured source for an admin page.
type SourceStatus struct {
	// Kind is "mmdb", "asn-csv" or a threat list kind (tor, vpn, proxy,
	// datacenter, threat).
	Kind   string `json:"kind"`
	Origin string `json:"origin"` // file path or URL
	// Layout is the detected database layout (mmdb only) and Family the
	// address family it holds.
	Layout       Layout `json:"layout,omitempty"`
	Family       string `json:"family,omitempty"`
	DatabaseType string `json:"databaseType,omitempty"`
	// BuildTime is the database build date (mmdb only).
	BuildTime time.Time `json:"buildTime,omitzero"`
	// Entries counts search tree nodes (mmdb), ranges (ASN CSV) or
	// prefixes (lists).
	Entries     int       `json:"entries"`
	Invalid     int       `json:"invalid,omitempty"` // list lines that were not addresses
	LastRefresh time.Time `json:"lastRefresh,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
}

// Status reports every source, its layout, build date, entry count and
// last refresh.
func (r *Resolver) Status() []SourceStatus {
	var out []SourceStatus
	for _, db := range r.dbs {
		st := SourceStatus{Kind: "mmdb", Origin: db.path}
		if h := db.current.Load(); h != nil {
			md := h.reader.Metadata
			st.Layout, st.Family, st.DatabaseType = h.layout, h.family.String(), md.DatabaseType
			st.BuildTime = md.BuildTime().UTC()
			st.Entries = int(md.NodeCount)
			st.LastRefresh = h.loaded
		}
		out = append(out, st)
	}
	for _, a := range r.asns {
		st := SourceStatus{Kind: "asn-csv", Origin: a.path}
		if t := a.current.Load(); t != nil {
			st.Entries, st.LastRefresh = t.ranges, t.loaded
		}
		out = append(out, st)
	}
	for _, l := range r.lists {
		for _, s := range l.sources {
			s.mu.Lock()
			out = append(out, SourceStatus{
				Kind: l.kind, Origin: s.shown, Entries: len(s.prefixes), Invalid: s.bad,
				LastRefresh: s.lastRefresh, LastError: s.lastErr,
			})
			s.mu.Unlock()
		}
	}
	return out
}
