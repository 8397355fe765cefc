package alert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// TargetPolicy says which webhook, Slack and Discord URLs are allowed. The
// zero value is the production policy: https to public addresses only.
type TargetPolicy struct {
	// AllowHTTPLoopback allows http:// to a loopback address (development,
	// tests).
	AllowHTTPLoopback bool
	// AllowPrivateTargets allows private, loopback, link-local, CGNAT,
	// unique-local and unspecified addresses (a receiver inside the network).
	AllowPrivateTargets bool
	// Resolver resolves host names at validation; nil: net.DefaultResolver.
	Resolver *net.Resolver
}

// reservedV4 are IPv4 ranges that are never a public webhook receiver
// beyond what netip's predicates cover: this network, CGNAT, IETF protocol
// assignments (incl. DS-Lite/NAT64 discovery), benchmarking, and the
// reserved class E block with the limited broadcast address.
var reservedV4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// IPv6 prefixes that embed or stand for an IPv4 address, and reserved ones.
var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052: IPv4 in the last 32 bits
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215: local-use translation, any layout
	sixToFour      = netip.MustParsePrefix("2002::/16")      // RFC 3056: IPv4 in bits 16-48
	teredo         = netip.MustParsePrefix("2001::/32")      // RFC 4380: server in bits 32-64, client inverted in the last 32
	v4Compatible   = netip.MustParsePrefix("::/96")          // deprecated IPv4-compatible ::a.b.c.d
	reservedV6     = []netip.Prefix{
		netip.MustParsePrefix("100::/64"),     // discard-only
		netip.MustParsePrefix("2001:2::/48"),  // benchmarking
		netip.MustParsePrefix("2001:10::/28"), // ORCHID
		netip.MustParsePrefix("fec0::/10"),    // deprecated site-local
	}
)

// internalAddr reports whether ip is not a public unicast address. An IPv6
// address that carries an IPv4 address (mapped, compatible, NAT64, 6to4,
// Teredo, ISATAP) is internal when the IPv4 address it reaches is.
func internalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	if ip.Is4() {
		for _, p := range reservedV4 {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	for _, p := range reservedV6 {
		if p.Contains(ip) {
			return true
		}
	}
	if nat64Local.Contains(ip) {
		return true // where the IPv4 address sits depends on the local prefix length
	}
	for _, v4 := range embeddedV4(ip) {
		if internalAddr(v4) {
			return true
		}
	}
	return false
}

// embeddedV4 returns the IPv4 addresses an IPv6 address is translated or
// tunnelled to.
func embeddedV4(ip netip.Addr) []netip.Addr {
	b := ip.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	var out []netip.Addr
	switch {
	case v4Compatible.Contains(ip), nat64WellKnown.Contains(ip):
		out = append(out, v4(12))
	case sixToFour.Contains(ip):
		out = append(out, v4(2))
	case teredo.Contains(ip):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		out = append(out, v4(4), client)
	}
	// ISATAP interface identifier ::0:5efe:a.b.c.d / ::200:5efe:a.b.c.d under any prefix.
	if (b[8]|0x02) == 0x02 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		out = append(out, v4(12))
	}
	return out
}

// allowsAddr reports whether the policy lets a connection reach ip.
func (p TargetPolicy) allowsAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if p.AllowPrivateTargets || !internalAddr(ip) {
		return true
	}
	return p.AllowHTTPLoopback && ip.IsLoopback()
}

// CheckURL validates a channel URL: https (or http to loopback when
// allowed), no credentials, and a host that resolves only to addresses the
// policy allows. It returns a message safe to show, or "".
func (p TargetPolicy) CheckURL(ctx context.Context, raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		r := p.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		addrs, err = r.LookupNetIP(lctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return msgNoResolve
		}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTPLoopback {
			return "must use https"
		}
		for _, a := range addrs {
			if !a.Unmap().IsLoopback() {
				return "http is allowed only to a loopback address; use https"
			}
		}
		return ""
	default:
		return "must use https"
	}
	for _, a := range addrs {
		if !p.allowsAddr(a) {
			return "must not point to a private, loopback, link-local or reserved address"
		}
	}
	return ""
}

// errBlockedAddr is returned by the dial guard.
var errBlockedAddr = errors.New("connection to a private or reserved address refused")

// dialControl rejects, at connect time, addresses the policy does not allow,
// so a host name that resolves differently later (DNS rebinding) cannot
// reach an internal address.
func (p TargetPolicy) dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errBlockedAddr, address)
	}
	if !p.allowsAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", errBlockedAddr, ap.Addr())
	}
	return nil
}

// msgNoResolve is the CheckURL message of a host that does not resolve: at
// send time this may pass, so it is retried, not dead-lettered.
const msgNoResolve = "host does not resolve"
