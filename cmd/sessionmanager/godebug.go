//go:build go1.26

// The module declares go 1.25 (what the library needs), which gives this
// command Go 1.25's defaults for the settings Go 1.26 changed. Built with Go
// 1.26 or later, these keep the service's Go 1.26 behaviour: post-quantum
// TLS key exchanges, strict colons in URL hosts, crypto ignoring custom
// random readers. A Go 1.25 toolchain does not know the settings and skips
// this file (docs/ARCHITECTURE.md, "Modules and Go version").

//go:debug tlssecpmlkem=1
//go:debug urlstrictcolons=1
//go:debug cryptocustomrand=0

package main
