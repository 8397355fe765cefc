// Package geo resolves an IP address to a location, an ISP/ASN and threat
// flags (VPN, proxy, Tor, datacenter, known threat) from local data only:
// MaxMind-format databases (GeoIP2/GeoLite2, DB-IP Lite, ip-location-db),
// ASN range CSV files, threat lists and a built-in list of hosting ASNs.
//
// No remote call is made on the lookup path and an address is never sent to
// a third party: downloads (threat lists, database updates) happen on a
// schedule in the background, and lookups read in-memory tables that are
// swapped atomically when new data arrives. See docs/GEO.md.
package geo
