package geo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// buildDB returns the bytes of a .mmdb of the given type with one record
// per network, written by mmdbwriter (the real MaxMind writer).
func buildDB(t testing.TB, dbType string, ipVersion int, nets map[string]mmdbtype.Map) []byte {
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

// writeDB writes buildDB's bytes to dir/name and returns the path.
func writeDB(t testing.TB, dir, name, dbType string, ipVersion int, nets map[string]mmdbtype.Map) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buildDB(t, dbType, ipVersion, nets), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

// cityRec is a GeoIP2-City record.
func cityRec(cc, country, region, city string, lat, lng float64, tz string) mmdbtype.Map {
	return mmdbtype.Map{
		"city":         mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": names(city)},
		"continent":    mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe")},
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String(cc), "names": names(country)},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("X"), "names": names(region)}},
		"location": mmdbtype.Map{
			"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lng),
			"accuracy_radius": mmdbtype.Uint16(20), "time_zone": mmdbtype.String(tz),
		},
	}
}

func asnRec(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

func flatRec(cc, state, city string, lat, lng float32, tz string) mmdbtype.Map {
	return mmdbtype.Map{
		"country_code": mmdbtype.String(cc), "state1": mmdbtype.String(state),
		"state2": mmdbtype.String(""), "city": mmdbtype.String(city),
		"postcode": mmdbtype.String(""), "latitude": mmdbtype.Float32(lat),
		"longitude": mmdbtype.Float32(lng), "timezone": mmdbtype.String(tz),
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func lookup(t testing.TB, r *Resolver, ip string) sm.GeoResult {
	t.Helper()
	res, err := r.Lookup(context.Background(), netip.MustParseAddr(ip))
	if err != nil {
		t.Fatalf("lookup %s: %v", ip, err)
	}
	return res
}
