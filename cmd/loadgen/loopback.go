package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// checkLoopback refuses any target whose host is not a loopback address
// (or a name that resolves only to loopback addresses): a load tool must
// not be pointed at somebody else's server.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-target %q: want http://127.0.0.1:PORT", target)
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Unmap().IsLoopback() {
			return fmt.Errorf("-target %q is not a loopback address; loadgen only drives a local server", target)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("-target %q: cannot resolve %s", target, host)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return fmt.Errorf("-target %q resolves to %s, not loopback; loadgen only drives a local server", target, a)
		}
	}
	return nil
}
