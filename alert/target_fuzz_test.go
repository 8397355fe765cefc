package alert

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// noDNS resolves nothing, so the fuzzer never touches the network: a host
// name resolves only through the hosts file (localhost); IP literals are
// judged as such.
var noDNS = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no DNS in fuzzing")
}}

// FuzzCheckURL feeds any URL to the webhook target check under the
// production policy and the development one: never a panic; an accepted
// URL has no credentials and an address literal the policy allows: never a
// private, loopback, link-local, CGNAT, multicast or unspecified target
// without AllowPrivateTargets, and plain http only to loopback with
// AllowHTTPLoopback.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://203.0.113.10/hook", "https://127.0.0.1/x", "http://127.0.0.1:8080/x", "https://10.0.0.1/", "https://[::1]/",
		"https://[::ffff:127.0.0.1]/", "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/", "https://0.0.0.0/",
		"https://[fe80::1%25eth0]/", "https://user:pw@203.0.113.10/", "https://2130706433/", "https://0x7f.1/", "https://localhost/",
		"http://203.0.113.10/", "javascript:alert(1)", "//203.0.113.10/x", " https://203.0.113.10/ ", "https://[::]/", "https://224.0.0.1/",
		"https://255.255.255.255/", "https://[fc00::1]/", "https://127.1/", "https://203.0.113.10@127.0.0.1/",
	} {
		f.Add(s)
	}
	policies := []TargetPolicy{{Resolver: noDNS}, {AllowHTTPLoopback: true, Resolver: noDNS}}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, p := range policies {
			if msg := p.CheckURL(context.Background(), raw); msg != "" {
				continue
			}
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || u.User != nil {
				t.Fatalf("%+v accepted %q (credentials or unparseable)", p, raw)
			}
			addrs := []netip.Addr{}
			if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
				addrs = append(addrs, ip)
			} else if addrs, err = noDNS.LookupNetIP(context.Background(), "ip", u.Hostname()); err != nil {
				// Only the hosts file answers here (localhost).
				t.Fatalf("%+v accepted %q whose host %q did not resolve", p, raw, u.Hostname())
			}
			for _, ip := range addrs {
				ip = ip.Unmap()
				switch u.Scheme {
				case "https":
					if internalAddr(ip) && !(p.AllowHTTPLoopback && ip.IsLoopback()) {
						t.Fatalf("%+v accepted internal target %q (%v)", p, raw, ip)
					}
				case "http":
					if !p.AllowHTTPLoopback || !ip.IsLoopback() {
						t.Fatalf("%+v accepted plain http to %q", p, raw)
					}
				default:
					t.Fatalf("%+v accepted scheme %q", p, u.Scheme)
				}
			}
		}
	})
}
