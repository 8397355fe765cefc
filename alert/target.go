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

var cgnat = netip.MustParsePrefix("100.64.0.0/10")
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// internalAddr reports whether ip is not a public unicast address.
func internalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || cgnat.Contains(ip) || thisNetwork.Contains(ip) ||
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})
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
