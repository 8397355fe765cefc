package sessionmanager

import (
	"context"
	"net/netip"
)

// Location is where an address is, as the local databases said at login.
type Location struct {
	// Local is true for private, loopback, link-local, CGNAT and
	// documentation addresses: no lookup is made for them.
	Local       bool    `json:"local,omitempty"`
	CountryCode string  `json:"countryCode,omitempty"` // ISO 3166-1 alpha-2
	CountryName string  `json:"countryName,omitempty"`
	Flag        string  `json:"flag,omitempty"` // emoji
	Region      string  `json:"region,omitempty"`
	City        string  `json:"city,omitempty"`
	Latitude    float64 `json:"latitude,omitempty"`
	Longitude   float64 `json:"longitude,omitempty"`
	// HasCoordinates tells a real 0,0 from no coordinates.
	HasCoordinates bool   `json:"hasCoordinates,omitempty"`
	AccuracyKM     int    `json:"accuracyKm,omitempty"`
	TimeZone       string `json:"timeZone,omitempty"`
	ASN            uint32 `json:"asn,omitempty"`
	ISP            string `json:"isp,omitempty"`
}

// Threat holds the threat flags of an address.
type Threat struct {
	VPN         bool `json:"vpn,omitempty"`
	Proxy       bool `json:"proxy,omitempty"`
	Tor         bool `json:"tor,omitempty"`
	Datacenter  bool `json:"datacenter,omitempty"`
	KnownThreat bool `json:"knownThreat,omitempty"`
}

// Any reports whether any flag is set.
func (t Threat) Any() bool {
	return t.VPN || t.Proxy || t.Tor || t.Datacenter || t.KnownThreat
}

// Anonymous reports whether the address hides its user's real location
// (VPN, proxy, Tor or datacenter): impossible travel is skipped for these.
func (t Threat) Anonymous() bool { return t.VPN || t.Proxy || t.Tor || t.Datacenter }

// GeoResult is the answer of a geo and threat lookup.
type GeoResult struct {
	Location Location
	Threat   Threat
	// Found is false when no database knew the address (or none is set).
	Found bool
}

// GeoResolver looks up an address in local databases. It never makes a
// remote call. An error means the lookup failed (not "unknown address").
type GeoResolver interface {
	Lookup(ctx context.Context, ip netip.Addr) (GeoResult, error)
}

// SetFlag sets the threat flag with the given name (vpn, proxy, tor,
// datacenter, threat or known_threat); false for an unknown name.
func (t *Threat) SetFlag(name string) bool {
	switch name {
	case "vpn":
		t.VPN = true
	case "proxy":
		t.Proxy = true
	case "tor":
		t.Tor = true
	case "datacenter":
		t.Datacenter = true
	case "threat", "known_threat":
		t.KnownThreat = true
	default:
		return false
	}
	return true
}

// ParseIPFilter reads an address (as a single-address prefix) or a CIDR
// prefix, for SessionFilter.IPPrefix.
func ParseIPFilter(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
