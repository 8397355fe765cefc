package geo

import (
	"math"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// f32 is what a float32 coordinate reads back as.
func f32(v float32) float64 { return float64(v) }

var londonResult = sm.GeoResult{Found: true, Location: sm.Location{
	CountryCode: "GB", CountryName: "United Kingdom", Flag: "🇬🇧", Region: "England",
	City: "London", Latitude: 51.5142, Longitude: -0.0931, HasCoordinates: true,
	AccuracyKM: 20, TimeZone: "Europe/London",
}}

func TestLayouts(t *testing.T) {
	london := cityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London")
	cases := []struct {
		name       string
		dbType     string
		ipVersion  int
		nets       map[string]mmdbtype.Map
		wantLayout Layout
		ip         string
		want       sm.GeoResult
	}{
		{
			name: "GeoIP2 City", dbType: "GeoIP2-City", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"81.2.69.0/24": london}, wantLayout: LayoutCity,
			ip:   "81.2.69.160",
			want: londonResult,
		},
		{
			name: "IPv4-mapped address is unmapped", dbType: "GeoLite2-City", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"81.2.69.0/24": london}, wantLayout: LayoutCity,
			ip:   "::ffff:81.2.69.160",
			want: londonResult,
		},
		{
			name: "City without location has no coordinates", dbType: "GeoLite2-City", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"2a02:ff00::/32": {
				"country": mmdbtype.Map{"iso_code": mmdbtype.String("IT"), "names": names("Italy")},
			}},
			wantLayout: LayoutCity, ip: "2a02:ff00::1",
			want: sm.GeoResult{Found: true, Location: sm.Location{CountryCode: "IT", CountryName: "Italy", Flag: "🇮🇹"}},
		},
		{
			name: "GeoLite2 Country", dbType: "GeoLite2-Country", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"81.2.69.0/24": london}, wantLayout: LayoutCountry,
			ip:   "81.2.69.1",
			want: sm.GeoResult{Found: true, Location: sm.Location{CountryCode: "GB", CountryName: "United Kingdom", Flag: "🇬🇧"}},
		},
		{
			name: "Country falls back to registered country", dbType: "GeoIP2-Country", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"89.160.20.0/24": {
				"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("SE"), "names": names("Sweden")},
			}},
			wantLayout: LayoutCountry, ip: "89.160.20.112",
			want: sm.GeoResult{Found: true, Location: sm.Location{CountryCode: "SE", CountryName: "Sweden", Flag: "🇸🇪"}},
		},
		{
			name: "GeoLite2 ASN", dbType: "GeoLite2-ASN", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"1.128.0.0/11": asnRec(1221, "Telstra Pty Ltd")},
			wantLayout: LayoutASN, ip: "1.128.0.1",
			want: sm.GeoResult{Found: true, Location: sm.Location{ASN: 1221, ISP: "Telstra Pty Ltd"}},
		},
		{
			name: "ASN of a hosting network sets Datacenter", dbType: "GeoLite2-ASN", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"5.9.0.0/16": asnRec(24940, "Hetzner Online GmbH")},
			wantLayout: LayoutASN, ip: "5.9.1.1",
			want: sm.GeoResult{Found: true, Location: sm.Location{ASN: 24940, ISP: "Hetzner Online GmbH"},
				Threat: sm.Threat{Datacenter: true}},
		},
		{
			name: "ASN of a VPN operator sets VPN", dbType: "GeoLite2-ASN", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"193.138.218.0/24": asnRec(39351, "31173 Services AB")},
			wantLayout: LayoutASN, ip: "193.138.218.74",
			want: sm.GeoResult{Found: true, Location: sm.Location{ASN: 39351, ISP: "31173 Services AB"},
				Threat: sm.Threat{VPN: true, Datacenter: true}},
		},
		{
			name: "GeoIP2 ISP", dbType: "GeoIP2-ISP", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"1.128.0.0/11": {
				"autonomous_system_number":       mmdbtype.Uint32(1221),
				"autonomous_system_organization": mmdbtype.String("Telstra Pty Ltd"),
				"isp":                            mmdbtype.String("Telstra Internet"),
				"organization":                   mmdbtype.String("Telstra Internet"),
			}},
			wantLayout: LayoutISP, ip: "1.128.0.1",
			want: sm.GeoResult{Found: true, Location: sm.Location{ASN: 1221, ISP: "Telstra Internet"}},
		},
		{
			name: "Anonymous-IP VPN", dbType: "GeoIP2-Anonymous-IP", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"1.2.0.0/16": {
				"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true),
			}},
			wantLayout: LayoutAnonymous, ip: "1.2.3.4",
			want: sm.GeoResult{Threat: sm.Threat{VPN: true}},
		},
		{
			name: "Anonymous-IP Tor, proxy and hosting", dbType: "GeoIP2-Anonymous-IP", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"65.0.0.0/13": {
				"is_anonymous": mmdbtype.Bool(true), "is_tor_exit_node": mmdbtype.Bool(true),
				"is_public_proxy": mmdbtype.Bool(true), "is_hosting_provider": mmdbtype.Bool(true),
			}},
			wantLayout: LayoutAnonymous, ip: "65.4.3.2",
			want: sm.GeoResult{Threat: sm.Threat{Tor: true, Proxy: true, Datacenter: true}},
		},
		{
			name: "DB-IP City Lite", dbType: "DBIP-City-Lite", ipVersion: 6,
			nets: map[string]mmdbtype.Map{"2a01:4f8::/32": {
				"city":         mmdbtype.Map{"names": names("Gunzenhausen")},
				"country":      mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": names("Germany")},
				"subdivisions": mmdbtype.Slice{mmdbtype.Map{"names": names("Bavaria")}},
				"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(49.1), "longitude": mmdbtype.Float64(10.75)},
			}},
			wantLayout: LayoutCity, ip: "2a01:4f8:c17::1",
			want: sm.GeoResult{Found: true, Location: sm.Location{
				CountryCode: "DE", CountryName: "Germany", Flag: "🇩🇪", Region: "Bavaria",
				City: "Gunzenhausen", Latitude: 49.1, Longitude: 10.75, HasCoordinates: true,
			}},
		},
		{
			name: "DB-IP ASN Lite", dbType: "DBIP-ASN-Lite (compat=GeoLite2-ASN)", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"8.8.8.0/24": asnRec(15169, "Google LLC")},
			wantLayout: LayoutASN, ip: "8.8.8.8",
			want: sm.GeoResult{Found: true, Location: sm.Location{ASN: 15169, ISP: "Google LLC"}},
		},
		{
			name: "ip-location-db flat IPv4", dbType: "city ipv4", ipVersion: 4,
			nets:       map[string]mmdbtype.Map{"5.9.0.0/16": flatRec("DE", "Saxony", "Falkenstein", 50.4777, 12.3649, "Europe/Berlin")},
			wantLayout: LayoutFlatCity, ip: "5.9.0.1",
			want: sm.GeoResult{Found: true, Location: sm.Location{
				CountryCode: "DE", CountryName: "Germany", Flag: "🇩🇪", Region: "Saxony", City: "Falkenstein",
				Latitude: f32(50.4777), Longitude: f32(12.3649), HasCoordinates: true, TimeZone: "Europe/Berlin",
			}},
		},
		{
			name: "ip-location-db flat IPv6", dbType: "city ipv6", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"2a01:4f8::/32": flatRec("DE", "", "", 51.2993, 9.491, "Europe/Berlin")},
			wantLayout: LayoutFlatCity, ip: "2a01:4f8::1",
			want: sm.GeoResult{Found: true, Location: sm.Location{
				CountryCode: "DE", CountryName: "Germany", Flag: "🇩🇪",
				Latitude: f32(51.2993), Longitude: f32(9.491), HasCoordinates: true, TimeZone: "Europe/Berlin",
			}},
		},
		{
			name: "ip-location-db ASN mmdb", dbType: "asn ipv4", ipVersion: 4,
			nets:       map[string]mmdbtype.Map{"1.1.1.0/24": asnRec(13335, "Cloudflare, Inc.")},
			wantLayout: LayoutASN, ip: "1.1.1.1",
			want: sm.GeoResult{Found: true, Location: sm.Location{ASN: 13335, ISP: "Cloudflare, Inc."},
				Threat: sm.Threat{Datacenter: true}},
		},
		{
			name: "unknown type, layout from record keys", dbType: "acme-geo", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"81.2.69.0/24": london},
			wantLayout: LayoutCity, ip: "81.2.69.160",
			want: londonResult,
		},
		{
			name: "address not in the database", dbType: "GeoLite2-City", ipVersion: 6,
			nets:       map[string]mmdbtype.Map{"81.2.69.0/24": london},
			wantLayout: LayoutCity, ip: "8.8.8.8",
			want: sm.GeoResult{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeDB(t, t.TempDir(), "db.mmdb", tc.dbType, tc.ipVersion, tc.nets)
			r := openResolver(t, Config{DBPaths: []string{path}})
			st := source(t, r, path)
			if st.Format != "mmdb" || st.DataDate.Unix() != 1700000000 ||
				st.Records == 0 || !slices.Equal(st.Provides, layoutProvides[tc.wantLayout]) || len(st.Provides) == 0 {
				t.Fatalf("status = %+v, want layout %s", st, tc.wantLayout)
			}
			got := lookup(t, r, tc.ip)
			if got != tc.want {
				t.Errorf("lookup %s\n got  %+v\n want %+v", tc.ip, got, tc.want)
			}
		})
	}
}

// TestFlatFamilies checks that the IPv4 and IPv6 files of ip-location-db
// are each asked only about their own family, and combine into one answer.
func TestFlatFamilies(t *testing.T) {
	dir := t.TempDir()
	v4 := writeDB(t, dir, "city-ipv4.mmdb", "city ipv4", 4, map[string]mmdbtype.Map{
		"5.9.0.0/16": flatRec("DE", "", "", 51, 9, "Europe/Berlin"),
	})
	v6 := writeDB(t, dir, "city-ipv6.mmdb", "city ipv6", 6, map[string]mmdbtype.Map{
		"2001:4860::/32": flatRec("US", "", "", 37.751, -97.822, "America/Chicago"),
		// A v4 network in the v6 file must not answer v4 lookups.
		"5.9.0.0/16": flatRec("FR", "", "", 48, 2, "Europe/Paris"),
	})
	r := openResolver(t, Config{DBPaths: []string{v6, v4}})
	if got := lookup(t, r, "5.9.0.1").Location.CountryCode; got != "DE" {
		t.Errorf("5.9.0.1 country = %q, want DE (from the v4 file)", got)
	}
	if got := lookup(t, r, "2001:4860:4860::8888").Location.CountryCode; got != "US" {
		t.Errorf("v6 country = %q, want US", got)
	}
}

// TestCombined checks that City, ASN and Anonymous-IP answers merge, with
// the first database winning a field both know.
func TestCombined(t *testing.T) {
	dir := t.TempDir()
	city := writeDB(t, dir, "city.mmdb", "GeoLite2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": cityRec("GB", "United Kingdom", "England", "London", 51.5, -0.09, "Europe/London"),
	})
	country := writeDB(t, dir, "country.mmdb", "GeoLite2-Country", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("FR"), "names": names("France")}},
	})
	asn := writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"81.2.69.0/24": asnRec(20712, "Andrews & Arnold Ltd")})
	anon := writeDB(t, dir, "anon.mmdb", "GeoIP2-Anonymous-IP", 6, map[string]mmdbtype.Map{
		"81.2.69.0/25": {"is_anonymous": mmdbtype.Bool(true), "is_public_proxy": mmdbtype.Bool(true)},
	})
	r := openResolver(t, Config{DBPaths: []string{city, country, asn, anon}})
	got := lookup(t, r, "81.2.69.1")
	if got.Location.CountryCode != "GB" || got.Location.ASN != 20712 || got.Location.ISP != "Andrews & Arnold Ltd" ||
		!got.Threat.Proxy || got.Threat.VPN || !got.Found {
		t.Errorf("combined = %+v", got)
	}
	if got := lookup(t, r, "81.2.69.200"); got.Threat.Any() {
		t.Errorf("81.2.69.200 (outside the anonymous /25) threat = %+v", got.Threat)
	}
	if math.IsNaN(got.Location.Latitude) {
		t.Error("NaN latitude leaked")
	}
}
