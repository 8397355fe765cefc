package risk

import (
	"net/netip"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// attemptIsLocal reports whether the login comes from a private address:
// the geo resolver's Local flag, or an address that no public database can
// place even when the resolver did not say so.
func attemptIsLocal(a *sm.LoginAttempt) bool {
	return (a.GeoErr == nil && a.Geo.Location.Local) || addrIsLocal(a.IP)
}

// sessionIsLocal is attemptIsLocal for an earlier session.
func sessionIsLocal(s *sm.Session) bool {
	return s.Location.Local || addrIsLocal(s.IP)
}

// addrIsLocal reports whether ip is loopback, private (RFC 1918, ULA),
// link-local, unspecified or CGNAT.
func addrIsLocal(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || cgnat.Contains(ip)
}
