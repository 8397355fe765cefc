// Package geo resolves an IP address to a location, an ISP/ASN and threat
// flags (VPN, proxy, Tor, datacenter, known threat) from local data only:
// MaxMind-format databases (GeoIP2/GeoLite2, DB-IP Lite, ip-location-db),
// ASN range CSV files, threat lists, a built-in list of hosting ASNs, and
// country and ASN data compiled into the binary (package geo/builtin), the
// lowest layer, so country and ASN work with no file configured.
//
// No remote call is made on the lookup path and an address is never sent to
// a third party: downloads (threat lists, database updates) happen on a
// schedule in the background, and lookups read in-memory tables that are
// swapped atomically when new data arrives. See docs/GEO.md.
package geo
