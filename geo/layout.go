package geo

import (
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Layout is the record shape of a database.
type Layout string

// The supported layouts. DB-IP Lite files use the MaxMind layouts.
const (
	LayoutCity      Layout = "city"         // GeoIP2/GeoLite2/DB-IP City
	LayoutCountry   Layout = "country"      // GeoIP2/GeoLite2/DB-IP Country
	LayoutASN       Layout = "asn"          // GeoLite2/DB-IP ASN, ip-location-db asn
	LayoutISP       Layout = "isp"          // GeoIP2 ISP
	LayoutAnonymous Layout = "anonymous-ip" // GeoIP2 Anonymous-IP
	LayoutFlatCity  Layout = "flat-city"    // ip-location-db: country_code, state1, city...
)

// family says which addresses a database holds: the ip-location-db files
// come as one IPv4 and one IPv6 file, and asking the wrong one is wasted.
type family uint8

const (
	familyBoth family = iota
	familyV4
	familyV6
)

func (f family) has(ip netip.Addr) bool {
	switch f {
	case familyV4:
		return ip.Is4()
	case familyV6:
		return ip.Is6()
	}
	return true
}

func (f family) String() string {
	switch f {
	case familyV4:
		return "ipv4"
	case familyV6:
		return "ipv6"
	}
	return "ipv4+ipv6"
}

// detectLayout finds the layout from the metadata's DatabaseType and, when
// that is not a known name, from the keys of a sample record.
func detectLayout(r *maxminddb.Reader) (Layout, family, bool) {
	md := r.Metadata
	t := strings.ToLower(md.DatabaseType)
	fam := familyBoth
	switch {
	case md.IPVersion == 4 || strings.HasSuffix(t, "ipv4"):
		fam = familyV4
	case strings.HasSuffix(t, "ipv6"):
		fam = familyV6
	}
	if l, ok := layoutFromType(t); ok {
		return l, fam, true
	}
	l, ok := layoutFromRecord(r)
	return l, fam, ok
}

// layoutFromType knows the MaxMind and DB-IP type names, e.g.
// "GeoLite2-City", "GeoIP2-Anonymous-IP", "DBIP-ASN-Lite (compat=GeoLite2-ASN)".
func layoutFromType(t string) (Layout, bool) {
	if !strings.HasPrefix(t, "geoip") && !strings.HasPrefix(t, "geolite") && !strings.HasPrefix(t, "dbip") {
		return "", false
	}
	switch {
	case strings.Contains(t, "anonymous"):
		return LayoutAnonymous, true
	case strings.Contains(t, "-isp"):
		return LayoutISP, true
	case strings.Contains(t, "asn"):
		return LayoutASN, true
	case strings.Contains(t, "city"), strings.Contains(t, "enterprise"):
		return LayoutCity, true
	case strings.Contains(t, "country"):
		return LayoutCountry, true
	}
	return "", false
}

// layoutFromRecord looks at the keys of the first record of the database.
func layoutFromRecord(r *maxminddb.Reader) (Layout, bool) {
	for res := range r.Networks() {
		var rec map[string]any
		if err := res.Decode(&rec); err != nil {
			return "", false
		}
		has := func(k string) bool { _, ok := rec[k]; return ok }
		switch {
		case has("is_anonymous") || has("is_anonymous_vpn") || has("is_tor_exit_node"):
			return LayoutAnonymous, true
		case has("isp"):
			return LayoutISP, true
		case has("autonomous_system_number"):
			return LayoutASN, true
		case has("country_code") || has("state1"):
			return LayoutFlatCity, true
		case has("city") || has("location") || has("subdivisions"):
			return LayoutCity, true
		case has("country") || has("registered_country"):
			return LayoutCountry, true
		}
		return "", false
	}
	return "", false
}
