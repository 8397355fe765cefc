// Package builtin holds the country and ASN data compiled into the binary:
// a snapshot of the ip-location-db project's geo-whois-asn-country (CC0)
// and asn (CC BY 4.0: RouteViews, DB-IP, NRO) data sets, with their licence
// files in LICENSES/. scripts/gen-geo-builtin.sh regenerates it (see
// docs/GEO.md).
//
// The tables are embedded as strings, so they stay in the binary's
// read-only data: nothing is decoded or copied at start, and a lookup is a
// binary search over the embedded bytes with no allocation.
package builtin

import (
	_ "embed"

	"github.com/magic-sessionmanager/sessionmanager/geo/internal/rangefile"
)

//go:embed country.bin
var countryBin string

//go:embed asn.bin
var asnBin string

// Licence and attribution of the embedded data. The DB-IP terms ask for a
// link to https://db-ip.com on pages that show results from its data.
const (
	CountryLicense        = "CC0-1.0 (ip-location-db geo-whois-asn-country); derived from NRO statistics, CC BY 4.0"
	CountryAttribution    = "Country: ip-location-db geo-whois-asn-country (CC0), from the Number Resource Organization's statistics (nro.net, CC BY 4.0)"
	CountryAttributionURL = "https://www.nro.net/"
	ASNLicense            = "CC BY 4.0 (RouteViews, DB-IP, NRO)"
	ASNAttribution        = "ASN: ip-location-db asn, from RouteViews (routeviews.org), IP Geolocation by DB-IP (db-ip.com, IP to ASN Lite) and NRO statistics (nro.net), CC BY 4.0"
	ASNAttributionURL     = "https://db-ip.com"
)

var embedded = func() *rangefile.DB {
	d, err := rangefile.Parse(countryBin, asnBin)
	if err != nil {
		// The files are generated and committed with the code, and a test
		// parses them: this is a broken build, not a runtime condition.
		panic(err)
	}
	return d
}()

// DB returns the embedded tables.
func DB() *rangefile.DB { return embedded }

// Info describes the embedded snapshot: date, source packages, counts.
func Info() rangefile.Snapshot { return snapshot }
