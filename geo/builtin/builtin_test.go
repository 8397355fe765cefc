package builtin

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// Expected values were read from the source CSVs of the pinned snapshot
// (2.3.2026061719); a regenerated snapshot may move some of them.
func TestLookups(t *testing.T) {
	tests := []struct {
		ip, country string
		asn         uint32
		org         string
	}{
		{"8.8.8.8", "US", 15169, "Google LLC"},
		{"1.1.1.1", "AU", 13335, "Cloudflare, Inc."},
		{"5.9.0.1", "DE", 24940, "Hetzner Online GmbH"},
		{"133.242.0.1", "JP", 7684, "SAKURA Internet Inc."},
		{"2001:4860:4860::8888", "US", 15169, "Google LLC"},
		{"2a00:1450:4001:80b::200e", "IE", 15169, "Google LLC"},
		{"2a01:4f8::1", "DE", 24940, "Hetzner Online GmbH"},
		// Range boundaries: 1.0.0.0-1.0.0.255 is AU/AS13335, 1.0.1.0 starts
		// CN, and no ASN is routed from 1.0.1.0 to 1.0.3.255.
		{"1.0.0.0", "AU", 13335, "Cloudflare, Inc."},
		{"1.0.0.255", "AU", 13335, "Cloudflare, Inc."},
		{"1.0.1.0", "CN", 0, ""},
		{"1.0.3.255", "CN", 0, ""},
		{"1.0.4.0", "AU", 38803, "Gtelecom Pty Ltd"},
		// Below the first range and above the last: unknown.
		{"0.255.255.255", "", 0, ""},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "", 0, ""},
		{"::", "", 0, ""},
		// A single address nested in a larger range (2.58.196.0/23 DE,
		// 2.58.197.15 BE): the more specific one wins, the rest shows
		// through on both sides.
		{"2.58.197.14", "DE", 207695, "Mario Kurz trading as LUME Solutions"},
		{"2.58.197.15", "BE", 207695, "Mario Kurz trading as LUME Solutions"},
		{"2.58.197.16", "DE", 207695, "Mario Kurz trading as LUME Solutions"},
		// IPv6 splits below /64: 2001:418:1439::2a0 alone is CA.
		{"2001:418:1439::29f", "US", 1225, "NTT America, Inc."},
		{"2001:418:1439::2a0", "CA", 1225, "NTT America, Inc."},
		{"2001:418:1439::2a1", "US", 1225, "NTT America, Inc."},
		// Overlapping ASN ranges (214.95.0.0-215.0.255.255 AS749 and
		// 215.0.0.0-215.1.3.255 AS721): the longer prefix wins.
		{"214.255.255.255", "US", 749, "United States Department of Defense (DoD)"},
		{"215.0.0.1", "US", 721, "DoD Network Information Center"},
		{"215.1.3.255", "US", 721, "DoD Network Information Center"},
		{"215.1.4.0", "US", 27066, "DoD Network Information Center"},
	}
	db := DB()
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := db.Country(ip); got != tt.country {
			t.Errorf("Country(%s) = %q, want %q", tt.ip, got, tt.country)
		}
		if asn, org := db.ASN(ip); asn != tt.asn || org != tt.org {
			t.Errorf("ASN(%s) = %d %q, want %d %q", tt.ip, asn, org, tt.asn, tt.org)
		}
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	db := DB()
	v4, v6 := netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2a01:4f8::1")
	if n := testing.AllocsPerRun(100, func() {
		_ = db.Country(v4)
		_, _ = db.ASN(v4)
		_ = db.Country(v6)
		_, _ = db.ASN(v6)
	}); n != 0 {
		t.Fatalf("%v allocations per lookup, want 0", n)
	}
}

func TestInfo(t *testing.T) {
	s := Info()
	if !s.Date.Equal(time.Date(2026, 6, 17, 19, 0, 0, 0, time.UTC)) {
		t.Errorf("Date = %v", s.Date)
	}
	if s.Country.Package != "@ip-location-db/geo-whois-asn-country" || s.ASN.Package != "@ip-location-db/asn" ||
		s.Country.Version != "2.3.2026061719" || s.ASN.Version != "2.3.2026061719" {
		t.Errorf("sources = %+v %+v", s.Country, s.ASN)
	}
	// ~334k+216k country and ~412k+103k ASN ranges in the source files.
	if s.Country.Ranges < 500_000 || s.ASN.Ranges < 450_000 || s.ASNs < 80_000 || s.Orgs < 70_000 {
		t.Errorf("counts = %+v", s)
	}
}

// BenchmarkTables is the raw table search (country + ASN); geo's
// BenchmarkBuiltinLookup is the whole Resolver.Lookup over it.
func BenchmarkTables(b *testing.B) {
	db := DB()
	for _, fam := range []struct {
		name  string
		addrs []string
	}{
		{"v4", []string{"8.8.8.8", "1.1.1.1", "5.9.0.1", "133.242.0.1", "81.2.69.160", "185.220.101.7", "45.3.1.2", "89.160.20.112"}},
		{"v6", []string{"2001:4860:4860::8888", "2a01:4f8::1", "2003::1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2400:cb00::1", "2c0f:fb50::1", "2804:14c::1"}},
	} {
		var addrs []netip.Addr
		for _, s := range fam.addrs {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		b.Run(fam.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ip := addrs[i%len(addrs)]
				_ = db.Country(ip)
				_, _ = db.ASN(ip)
				i++
			}
		})
	}
}

// TestTablesOffHeap: the ~17 MB of tables are read in place from the
// binary's read-only data, so the heap after init stays small.
func TestTablesOffHeap(t *testing.T) {
	_ = DB().Country(netip.MustParseAddr("8.8.8.8"))
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("heap after init: %d KiB in use, %d KiB from the OS", m.HeapAlloc>>10, m.HeapSys>>10)
	if m.HeapAlloc > 4<<20 {
		t.Errorf("heap in use %d MiB after init: the tables were copied to the heap", m.HeapAlloc>>20)
	}
}
