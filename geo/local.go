package geo

import (
	"net/netip"

	"github.com/gaissmai/bart"
)

// specialPrefixes are the ranges no database can place: the ones netip has
// no predicate for (see IsLocal for the rest).
var specialPrefixes = []string{
	"0.0.0.0/8",       // "this network" (RFC 791)
	"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
	"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
	"192.0.2.0/24",    // documentation TEST-NET-1 (RFC 5737)
	"198.18.0.0/15",   // benchmarking (RFC 2544)
	"198.51.100.0/24", // documentation TEST-NET-2
	"203.0.113.0/24",  // documentation TEST-NET-3
	"240.0.0.0/4",     // reserved, incl. broadcast (RFC 1112)
	"2001:db8::/32",   // documentation (RFC 3849)
	"3fff::/20",       // documentation (RFC 9637)
	"100::/64",        // discard-only (RFC 6666)
	"64:ff9b:1::/48",  // local-use NAT64 (RFC 8215)
}

var specialTable = func() *bart.Lite {
	t := new(bart.Lite)
	for _, s := range specialPrefixes {
		t.Insert(netip.MustParsePrefix(s))
	}
	return t
}()

// IsLocal reports whether ip is private, loopback, link-local, CGNAT,
// documentation, unique-local, multicast, unspecified or reserved: an
// address that means nothing to a geo database. ip must be unmapped.
func IsLocal(ip netip.Addr) bool {
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsMulticast() || ip.IsUnspecified() || specialTable.Lookup(ip)
}
