package geo

import (
	"context"
	"net/netip"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// benchAddrs mixes IPv4 and IPv6, known and unknown, DE/US/anycast.
var benchAddrs = func() []netip.Addr {
	var out []netip.Addr
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "9.9.9.9", "5.9.0.1", "194.25.0.60", "81.2.69.160", "185.220.101.7",
		"45.3.1.2", "2001:4860:4860::8888", "2a01:4f8::1", "2003::1", "2606:4700:4700::1111",
		"89.160.20.112", "216.160.83.56", "175.16.199.1", "2.125.160.216",
	} {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}()

func benchLookups(b *testing.B, r *Resolver) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := r.Lookup(ctx, benchAddrs[i%len(benchAddrs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLookupRealData: location (GeoLite2 City, ip-location-db) + ASN
// (CSV table) + threat lists + built-in ASN list, on the real data.
func BenchmarkLookupRealData(b *testing.B) {
	benchLookups(b, realResolver(b))
}

// BenchmarkLookupRealDataParallel is the same lookup from all cores.
func BenchmarkLookupRealDataParallel(b *testing.B) {
	r := realResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.Lookup(ctx, benchAddrs[i%len(benchAddrs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkLookupTestDB: City + ASN + Anonymous-IP databases written by
// mmdbwriter, plus a Tor list.
func BenchmarkLookupTestDB(b *testing.B) {
	dir := b.TempDir()
	city := map[string]mmdbtype.Map{}
	asn := map[string]mmdbtype.Map{}
	for i, a := range benchAddrs {
		p := netip.PrefixFrom(a, a.BitLen()-8).Masked().String()
		if a.Is6() {
			p = netip.PrefixFrom(a, 48).Masked().String()
		}
		city[p] = cityRec("DE", "Germany", "Bavaria", "Munich", 48.1, 11.6, "Europe/Berlin")
		asn[p] = asnRec(uint32(64500+i), "Example AS")
	}
	r := openResolver(b, Config{
		DBPaths: []string{
			writeDB(b, dir, "city.mmdb", "GeoLite2-City", 6, city),
			writeDB(b, dir, "asn.mmdb", "GeoLite2-ASN", 6, asn),
			writeDB(b, dir, "anon.mmdb", "GeoIP2-Anonymous-IP", 6, map[string]mmdbtype.Map{
				"185.220.101.0/24": {"is_anonymous": mmdbtype.Bool(true), "is_tor_exit_node": mmdbtype.Bool(true)},
			}),
		},
		TorExits: []string{writeSyntheticList(b, "tor.txt", "185.220.101.%d\n", 256)},
	})
	benchLookups(b, r)
}

// BenchmarkBuiltinLookup: Resolver.Lookup with only the built-in data
// (country + ASN + organisation + the hosting ASN table), per family.
func BenchmarkBuiltinLookup(b *testing.B) {
	r := openBuiltin(b, Config{})
	ctx := context.Background()
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"v4", false}, {"v6", true}} {
		var addrs []netip.Addr
		for _, a := range benchAddrs {
			if a.Is6() == fam.is6 {
				addrs = append(addrs, a)
			}
		}
		b.Run(fam.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := r.Lookup(ctx, addrs[i%len(addrs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
