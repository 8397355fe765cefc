//go:build pprof

package main

// Profiling of the real binary under load (docs/PERFORMANCE.md, "Where the
// time goes"): built only with -tags pprof, never in a release. The
// profiles are served on SM_PPROF_ADDR, which must be a loopback address.

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("SM_PPROF_ADDR")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "SM_PPROF_ADDR must be a loopback address with a port, e.g. 127.0.0.1:6060")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "SM_PPROF_ADDR:", err)
		os.Exit(2)
	}
	go func() { _ = http.Serve(ln, nil) }()
}
