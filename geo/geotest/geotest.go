// Package geotest builds small MaxMind-format databases with the real
// MaxMind writer (mmdbwriter), for tests of every package that needs a geo
// database on disk.
package geotest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// BuildDB returns the bytes of a .mmdb of the given type with one record
// per network.
func BuildDB(t testing.TB, dbType string, ipVersion int, nets map[string]mmdbtype.Map) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType, IPVersion: ipVersion, RecordSize: 28,
		Languages: []string{"en"}, Description: map[string]string{"en": "test " + dbType},
		BuildEpoch: 1700000000,
	})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// WriteDB writes BuildDB's bytes to dir/name and returns the path.
func WriteDB(t testing.TB, dir, name, dbType string, ipVersion int, nets map[string]mmdbtype.Map) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, BuildDB(t, dbType, ipVersion, nets), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Names is a names map with English and a German variant.
func Names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

// CityRec is a GeoIP2-City record.
func CityRec(cc, country, region, city string, lat, lng float64, tz string) mmdbtype.Map {
	return mmdbtype.Map{
		"city":         mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": Names(city)},
		"continent":    mmdbtype.Map{"code": mmdbtype.String("EU"), "names": Names("Europe")},
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String(cc), "names": Names(country)},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("X"), "names": Names(region)}},
		"location": mmdbtype.Map{
			"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lng),
			"accuracy_radius": mmdbtype.Uint16(20), "time_zone": mmdbtype.String(tz),
		},
	}
}

// ASNRec is a GeoLite2-ASN record.
func ASNRec(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// FlatRec is an ip-location-db (flat layout) city record.
func FlatRec(cc, state, city string, lat, lng float32, tz string) mmdbtype.Map {
	return mmdbtype.Map{
		"country_code": mmdbtype.String(cc), "state1": mmdbtype.String(state),
		"state2": mmdbtype.String(""), "city": mmdbtype.String(city),
		"postcode": mmdbtype.String(""), "latitude": mmdbtype.Float32(lat),
		"longitude": mmdbtype.Float32(lng), "timezone": mmdbtype.String(tz),
	}
}
