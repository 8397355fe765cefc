package geo

import (
	"math"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Small structs with maxminddb tags: the decoder fills only these fields and
// skips the rest of a record, which keeps a lookup to a few allocations.

type enNames struct {
	En string `maxminddb:"en"`
}

type countryPart struct {
	ISOCode string  `maxminddb:"iso_code"`
	Names   enNames `maxminddb:"names"`
}

// countryRecord is the Country layout (and the start of City).
type countryRecord struct {
	Country           countryPart `maxminddb:"country"`
	RegisteredCountry countryPart `maxminddb:"registered_country"`
}

// cityRecord is the City layout.
type cityRecord struct {
	Country           countryPart `maxminddb:"country"`
	RegisteredCountry countryPart `maxminddb:"registered_country"`
	City              struct {
		Names enNames `maxminddb:"names"`
	} `maxminddb:"city"`
	Subdivisions []struct {
		Names enNames `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"`
		TimeZone       string  `maxminddb:"time_zone"`
	} `maxminddb:"location"`
}

// flatCityRecord is the ip-location-db layout.
type flatCityRecord struct {
	CountryCode string  `maxminddb:"country_code"`
	State1      string  `maxminddb:"state1"`
	City        string  `maxminddb:"city"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
	TimeZone    string  `maxminddb:"timezone"`
}

// asnRecord is the ASN layout.
type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// ispRecord is the GeoIP2 ISP layout.
type ispRecord struct {
	ASN          uint32 `maxminddb:"autonomous_system_number"`
	Org          string `maxminddb:"autonomous_system_organization"`
	ISP          string `maxminddb:"isp"`
	Organization string `maxminddb:"organization"`
}

// anonRecord is the GeoIP2 Anonymous-IP layout.
type anonRecord struct {
	Anonymous        bool `maxminddb:"is_anonymous"`
	VPN              bool `maxminddb:"is_anonymous_vpn"`
	Hosting          bool `maxminddb:"is_hosting_provider"`
	PublicProxy      bool `maxminddb:"is_public_proxy"`
	ResidentialProxy bool `maxminddb:"is_residential_proxy"`
	Tor              bool `maxminddb:"is_tor_exit_node"`
}

// noCoord marks coordinates the record did not have: the decoder leaves a
// field alone when the key is missing, and NaN is no real coordinate.
var noCoord = math.NaN()

func (c *countryPart) apply(loc *sm.Location) bool {
	if c.ISOCode == "" || loc.CountryCode != "" {
		return false
	}
	loc.CountryCode = c.ISOCode
	loc.CountryName = c.Names.En
	return true
}

func (rec *countryRecord) apply(res *sm.GeoResult) {
	if rec.Country.apply(&res.Location) || rec.RegisteredCountry.apply(&res.Location) {
		res.Found = true
	}
}

func (rec *cityRecord) apply(res *sm.GeoResult) {
	loc := &res.Location
	if rec.Country.apply(loc) || rec.RegisteredCountry.apply(loc) {
		res.Found = true
	}
	if loc.City == "" && rec.City.Names.En != "" {
		loc.City = rec.City.Names.En
		res.Found = true
	}
	if loc.Region == "" && len(rec.Subdivisions) > 0 {
		loc.Region = rec.Subdivisions[0].Names.En
	}
	setCoords(res, rec.Location.Latitude, rec.Location.Longitude)
	if loc.AccuracyKM == 0 {
		loc.AccuracyKM = int(rec.Location.AccuracyRadius)
	}
	if loc.TimeZone == "" {
		loc.TimeZone = rec.Location.TimeZone
	}
}

func (rec *flatCityRecord) apply(res *sm.GeoResult) {
	loc := &res.Location
	if loc.CountryCode == "" && rec.CountryCode != "" {
		loc.CountryCode = rec.CountryCode
		res.Found = true
	}
	if loc.Region == "" {
		loc.Region = rec.State1
	}
	if loc.City == "" {
		loc.City = rec.City
	}
	setCoords(res, rec.Latitude, rec.Longitude)
	if loc.TimeZone == "" {
		loc.TimeZone = rec.TimeZone
	}
}

func setCoords(res *sm.GeoResult, lat, lng float64) {
	if res.Location.HasCoordinates || math.IsNaN(lat) || math.IsNaN(lng) {
		return
	}
	res.Location.Latitude, res.Location.Longitude = lat, lng
	res.Location.HasCoordinates = true
	res.Found = true
}

func (rec *asnRecord) apply(res *sm.GeoResult) {
	if rec.ASN == 0 || res.Location.ASN != 0 {
		return
	}
	res.Location.ASN = rec.ASN
	if res.Location.ISP == "" {
		res.Location.ISP = rec.Org
	}
	res.Found = true
}

func (rec *ispRecord) apply(res *sm.GeoResult) {
	if res.Location.ISP == "" {
		res.Location.ISP = firstNonEmpty(rec.ISP, rec.Organization, rec.Org)
	}
	if res.Location.ASN == 0 {
		res.Location.ASN = rec.ASN
	}
	if rec.ASN != 0 || rec.ISP != "" {
		res.Found = true
	}
}

func (rec *anonRecord) apply(res *sm.GeoResult) {
	t := &res.Threat
	t.VPN = t.VPN || rec.VPN
	t.Proxy = t.Proxy || rec.PublicProxy || rec.ResidentialProxy
	t.Tor = t.Tor || rec.Tor
	t.Datacenter = t.Datacenter || rec.Hosting
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
