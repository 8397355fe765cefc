// Package rangefile is the file format of the built-in geo data (package
// geo/builtin): sorted range starts and their values, read in place from a
// string (the embedded bytes) with no decoding and no allocation per lookup.
// The generator (geo/internal/gengeo) writes it.
package rangefile

import (
	"errors"
	"fmt"
	"net/netip"
)

// File format (every integer little-endian):
//
//	magic    [8]byte  "SMGEOBI" + format version
//	kind     u32      KindCountry or KindASN
//	sections u32      number of sections
//	dir      sections × {offset u32, length u32}
//	data     the sections, each at an 8-byte aligned offset
//
// A range table is two families of sorted range starts and one value per
// start: the value holds from that start up to the next one. Gaps between
// the source ranges are starts with value 0 (unknown), so a lookup is the
// last start <= the address. IPv6 starts are full 128-bit addresses (high
// and low halves in two arrays): the data splits below /64 in places.
//
// Country sections: v4 starts (u32), v4 values (u8), v6 high (u64), v6 low
// (u64), v6 values (u8), codes (2 ASCII bytes each; value v is code v-1).
//
// ASN sections: the same five with u32 values (value v is pair v), then
// pair ASNs (u32), pair orgs (u32 index into the names), name offsets
// (u32, one more than names) and the names' bytes. Pair 0 and name 0 are
// "unknown" and "".
const (
	Magic       = "SMGEOBI\x01"
	KindCountry = 1
	KindASN     = 2
	HeaderSize  = 16
)

// Section counts of each kind.
const (
	countrySections = 6
	asnSections     = 9
)

// table is one range table read in place.
type table struct {
	v4, v4val         string
	v6hi, v6lo, v6val string
	n4, n6, width     int
}

// DB is a parsed pair of country and ASN files.
type DB struct {
	country                     table
	codes                       string
	asn                         table
	pairASN, pairOrg, orgOffset string
	orgNames                    string
	pairs, orgs                 int
}

// Parse checks the section directories of a country and an ASN file and
// returns a DB reading them in place. It does not copy or decode the tables.
func Parse(country, asn string) (*DB, error) {
	var d DB
	cs, err := sections(country, KindCountry, countrySections)
	if err != nil {
		return nil, fmt.Errorf("builtin country data: %w", err)
	}
	if d.country, err = newTable(cs, 1); err != nil {
		return nil, fmt.Errorf("builtin country data: %w", err)
	}
	d.codes = cs[5]
	if len(d.codes)%2 != 0 {
		return nil, errors.New("builtin country data: bad code table")
	}
	as, err := sections(asn, KindASN, asnSections)
	if err != nil {
		return nil, fmt.Errorf("builtin ASN data: %w", err)
	}
	if d.asn, err = newTable(as, 4); err != nil {
		return nil, fmt.Errorf("builtin ASN data: %w", err)
	}
	d.pairASN, d.pairOrg, d.orgOffset, d.orgNames = as[5], as[6], as[7], as[8]
	d.pairs = len(d.pairASN) / 4
	d.orgs = len(d.orgOffset)/4 - 1
	if len(d.pairASN)%4 != 0 || len(d.pairOrg) != len(d.pairASN) || len(d.orgOffset)%4 != 0 || d.orgs < 0 {
		return nil, errors.New("builtin ASN data: bad pair or name table")
	}
	return &d, nil
}

func sections(data string, kind uint32, want int) ([]string, error) {
	if len(data) < HeaderSize || data[:8] != Magic {
		return nil, errors.New("not a builtin geo file (bad magic)")
	}
	if k := u32(data, 2); k != kind {
		return nil, fmt.Errorf("file kind %d, want %d", k, kind)
	}
	n := int(u32(data, 3))
	if n != want || len(data) < HeaderSize+8*n {
		return nil, fmt.Errorf("%d sections, want %d", n, want)
	}
	out := make([]string, n)
	for i := range n {
		off, size := int(u32(data, 4+2*i)), int(u32(data, 5+2*i))
		if off < HeaderSize+8*n || off > len(data) || size > len(data)-off {
			return nil, fmt.Errorf("section %d out of bounds", i)
		}
		out[i] = data[off : off+size]
	}
	return out, nil
}

func newTable(s []string, width int) (table, error) {
	t := table{v4: s[0], v4val: s[1], v6hi: s[2], v6lo: s[3], v6val: s[4], width: width}
	t.n4, t.n6 = len(t.v4)/4, len(t.v6hi)/8
	if len(t.v4)%4 != 0 || len(t.v4val) != t.n4*width ||
		len(t.v6hi)%8 != 0 || len(t.v6lo) != len(t.v6hi) || len(t.v6val) != t.n6*width {
		return t, errors.New("bad range table sizes")
	}
	return t, nil
}

// value is entry i of a value array.
func (t *table) value(vals string, i int) uint32 {
	if t.width == 1 {
		return uint32(vals[i])
	}
	return u32(vals, i)
}

// find returns the value of the range holding ip (0: unknown).
func (t *table) find(ip netip.Addr) uint32 {
	if ip.Is4() {
		b := ip.As4()
		x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		lo, hi := 0, t.n4
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if u32(t.v4, m) <= x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo == 0 {
			return 0
		}
		return t.value(t.v4val, lo-1)
	}
	b := ip.As16()
	xh, xl := be64(b[:8]), be64(b[8:])
	lo, hi := 0, t.n6
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		sh := u64(t.v6hi, m)
		if sh < xh || sh == xh && u64(t.v6lo, m) <= xl {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return t.value(t.v6val, lo-1)
}

// Country returns the ISO 3166-1 alpha-2 code of ip, or "" when the data
// has none. ip must be unmapped.
func (d *DB) Country(ip netip.Addr) string {
	v := int(d.country.find(ip))
	if v == 0 || 2*v > len(d.codes) {
		return ""
	}
	return d.codes[2*v-2 : 2*v]
}

// ASN returns the autonomous system and its organisation holding ip, or 0
// and "" when it is not routed in the data. ip must be unmapped.
func (d *DB) ASN(ip netip.Addr) (asn uint32, org string) {
	v := int(d.asn.find(ip))
	if v == 0 || v >= d.pairs {
		return 0, ""
	}
	o := int(u32(d.pairOrg, v))
	if o >= d.orgs {
		return u32(d.pairASN, v), ""
	}
	a, b := int(u32(d.orgOffset, o)), int(u32(d.orgOffset, o+1))
	if a > b || b > len(d.orgNames) {
		return u32(d.pairASN, v), ""
	}
	return u32(d.pairASN, v), d.orgNames[a:b]
}

// u32 is the i-th little-endian uint32 of s (the compiler makes it one load).
func u32(s string, i int) uint32 {
	s = s[4*i : 4*i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// u64 is the i-th little-endian uint64 of s.
func u64(s string, i int) uint64 {
	s = s[8*i : 8*i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
