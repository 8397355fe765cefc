package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the client's address: the socket peer, or, only when the
// peer is a trusted proxy, the first untrusted address of X-Forwarded-For
// walking right to left (each trusted hop is skipped). It fails closed to
// the socket address on anything malformed.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := socketAddr(r.RemoteAddr)
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	// Several headers are concatenated in order, then walked right to left,
	// in place: forward auth behind a proxy reads this on every request.
	for i := len(hops) - 1; i >= 0; i-- {
		rest := hops[i]
		for {
			comma := strings.LastIndexByte(rest, ',')
			a, err := netip.ParseAddr(strings.TrimSpace(rest[comma+1:]))
			if err != nil {
				return peer
			}
			a = a.Unmap()
			if !isTrusted(a, trusted) {
				return a
			}
			if comma < 0 {
				break
			}
			rest = rest[:comma]
		}
	}
	return peer
}

func socketAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads a comma-separated list of CIDRs or addresses.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
