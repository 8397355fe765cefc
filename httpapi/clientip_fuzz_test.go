package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP checks the invariants of the X-Forwarded-For walk, for any
// socket address, any header values and any trusted-proxy list:
//
//  1. the answer is the socket address, or an address written in the header;
//  2. an untrusted peer's header is never believed: the answer is the peer;
//  3. the answer is a trusted proxy only when it is the peer itself (every
//     hop was trusted or the header was unusable: fail closed to the socket);
//  4. when the answer comes from the header, every hop to its right is a
//     trusted proxy (an attacker's left-most entries are never preferred).
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:443", "203.0.113.7", "", "10.0.0.0/8")
	f.Add("10.0.0.1:443", "1.2.3.4, 203.0.113.7, 10.0.0.2", "", "10.0.0.0/8")
	f.Add("198.51.100.1:80", "1.2.3.4", "", "10.0.0.0/8")
	f.Add("10.0.0.1:1", "garbage, 10.0.0.3", "8.8.8.8", "10.0.0.0/8,8.8.8.8")
	f.Add("[::ffff:10.0.0.1]:443", "::ffff:192.0.2.1", "2001:db8::1", "10.0.0.0/8, 2001:db8::/32")
	f.Add("unix", "1.1.1.1", "", "")
	f.Add("10.0.0.1:443", "10.0.0.9,10.0.0.8", "", "10.0.0.0/8")
	f.Add("[fe80::1%eth0]:1", "fe80::2%eth0", "", "fe80::/10")
	f.Fuzz(func(t *testing.T, remote, xff1, xff2, trustedSpec string) {
		trusted, err := ParseTrustedProxies(trustedSpec)
		if err != nil {
			return // a bad list stops the start; it never reaches ClientIP
		}
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var hops []string
		for _, h := range []string{xff1, xff2} {
			if h != "" {
				r.Header.Add("X-Forwarded-For", h)
				hops = append(hops, strings.Split(h, ",")...)
			}
		}
		got := ClientIP(r, trusted)
		peer := socketAddr(remote)
		if got == peer {
			return
		}
		if !isTrusted(peer, trusted) {
			t.Fatalf("untrusted peer %q: header believed, got %v", remote, got)
		}
		if isTrusted(got, trusted) {
			t.Fatalf("answer %v is a trusted proxy but not the peer %v", got, peer)
		}
		// got came from the header: find it, right to left, and check every
		// hop to its right is a parseable trusted proxy.
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				t.Fatalf("answer %v found after an unparseable hop %q", got, hops[i])
			}
			if a.Unmap() == got {
				return
			}
			if !isTrusted(a.Unmap(), trusted) {
				t.Fatalf("answer %v skipped an untrusted hop %v", got, a)
			}
		}
		t.Fatalf("answer %v is neither the peer %v nor in the header %q", got, peer, hops)
	})
}
