package sessionmanager

import (
	"fmt"
	"time"
)

// Geo capabilities: what a geo source can tell about an address. An admin
// page lists which of them have data; the warnings name the settings that
// need one that is missing.
const (
	GeoCountry    = "country"
	GeoCity       = "city" // region, city, coordinates, time zone
	GeoASN        = "asn"  // ASN and organisation (ISP)
	GeoTor        = "tor"
	GeoVPN        = "vpn"
	GeoProxy      = "proxy"
	GeoDatacenter = "datacenter"
	GeoThreat     = "threat" // known-bad addresses
)

// GeoSource describes one source of geo or threat data for admins: the
// built-in snapshot, a configured file, or a downloaded feed.
type GeoSource struct {
	// Name is a short stable identifier ("builtin-country", "tor-exits",
	// "aws", a file's base name...).
	Name string `json:"name"`
	// Provides lists the capabilities this source feeds (GeoCountry...).
	Provides []string `json:"provides"`
	// Origin is "builtin", a file path or a URL (never with credentials).
	Origin string `json:"origin"`
	// Format is the detected or configured format ("mmdb", "csv",
	// "plain", "tor-bulk", "aws-json"...).
	Format string `json:"format,omitempty"`
	// Records counts the ranges, prefixes or nodes loaded (0: none yet).
	Records int `json:"records"`
	// DataDate is when the data was built (snapshot or database build
	// date) or last downloaded with success.
	DataDate time.Time `json:"dataDate,omitzero"`
	// RefreshInterval is how often a feed is downloaded (0: never).
	RefreshInterval Duration `json:"refreshInterval,omitempty"`
	// LastAttempt is the last download or reload try; LastError its error
	// ("" after a success, and for a source never tried).
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	// Note states a condition that is not a failure: "disabled:
	// SM_THREAT_FEEDS=off" for a feed configuration turned off, "not
	// downloaded yet" before a feed's first download. It never raises the
	// error gauge or the dashboard's error badge.
	Note string `json:"note,omitempty"`
	// License and Attribution say under which terms the data is used and
	// whom to credit; AttributionURL links the provider.
	License        string `json:"license,omitempty"`
	Attribution    string `json:"attribution,omitempty"`
	AttributionURL string `json:"attributionUrl,omitempty"`
	// Enabled is false for a source that configuration turned off (it is
	// still listed, so the admin sees why a capability is missing).
	Enabled bool `json:"enabled"`
}

// GeoStatus is the state of every geo and threat source.
type GeoStatus struct {
	Sources []GeoSource `json:"sources"`
	// Capabilities maps each capability to whether an enabled source with
	// records provides it.
	Capabilities map[string]bool `json:"capabilities"`
	// Feeds is false when downloads are turned off (SM_THREAT_FEEDS=off).
	Feeds bool `json:"feeds"`
}

// Has reports whether an enabled source with records provides capability c.
func (s GeoStatus) Has(c string) bool { return s.Capabilities[c] }

// GeoStatusReporter is a GeoResolver that can describe its sources.
type GeoStatusReporter interface {
	GeoStatus() GeoStatus
}

// NewGeoStatus builds the status of the sources, with the capabilities
// that enabled sources with records provide. Names are made unique, in
// the order of sources: a repeated name gets "-2", "-3"... (two list files
// with the same base name, /a/list.txt and /b/list.txt), so that the
// dashboard and the metrics labels tell them apart; the same sources in
// the same order always get the same names.
func NewGeoStatus(sources []GeoSource, feeds bool) GeoStatus {
	uniqueSourceNames(sources)
	st := GeoStatus{Sources: sources, Feeds: feeds, Capabilities: map[string]bool{}}
	for _, c := range []string{GeoCountry, GeoCity, GeoASN, GeoTor, GeoVPN, GeoProxy, GeoDatacenter, GeoThreat} {
		st.Capabilities[c] = false
	}
	for _, s := range sources {
		if !s.Enabled || s.Records == 0 {
			continue
		}
		for _, c := range s.Provides {
			st.Capabilities[c] = true
		}
	}
	return st
}

// uniqueSourceNames renames the second and later sources of a name with
// the first "-N" suffix (N from 2) that no source is called.
func uniqueSourceNames(sources []GeoSource) {
	seen := make(map[string]bool, len(sources))
	for _, s := range sources {
		seen[s.Name] = false
	}
	for i := range sources {
		name := sources[i].Name
		if !seen[name] {
			seen[name] = true
			continue
		}
		for n := 2; ; n++ {
			if c := fmt.Sprintf("%s-%d", name, n); !hasKey(seen, c) {
				sources[i].Name, seen[c] = c, true
				break
			}
		}
	}
}

func hasKey(m map[string]bool, k string) bool { _, ok := m[k]; return ok }
