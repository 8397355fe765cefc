// Command gengeo writes the embedded geo data of package builtin from the
// ip-location-db npm tarballs. scripts/gen-geo-builtin.sh runs it with the
// pinned versions and their integrity; the same tarballs give byte-identical
// output.
//
//	go run ./geo/internal/gengeo -country C.tgz -country-integrity sha512-... \
//	    -asn A.tgz -asn-integrity sha512-... -out geo/builtin
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var o options
	flag.StringVar(&o.countryTGZ, "country", "", "@ip-location-db/geo-whois-asn-country tarball")
	flag.StringVar(&o.countryIntegrity, "country-integrity", "", "its pinned npm integrity (sha512-...)")
	flag.StringVar(&o.asnTGZ, "asn", "", "@ip-location-db/asn tarball")
	flag.StringVar(&o.asnIntegrity, "asn-integrity", "", "its pinned npm integrity (sha512-...)")
	flag.StringVar(&o.out, "out", "geo/builtin", "package directory to write")
	flag.Parse()
	if o.countryTGZ == "" || o.asnTGZ == "" || o.countryIntegrity == "" || o.asnIntegrity == "" {
		fmt.Fprintln(os.Stderr, "gen: -country, -country-integrity, -asn and -asn-integrity are required")
		os.Exit(2)
	}
	if err := generate(o); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
