package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/magic-sessionmanager/sessionmanager/geo/internal/rangefile"
)

type options struct {
	countryTGZ, countryIntegrity string
	asnTGZ, asnIntegrity         string
	out                          string
}

// pkg is the content of one npm tarball that the generator uses.
type pkg struct {
	name, version, integrity string
	files                    map[string][]byte // base name -> content
}

// licenceFiles are copied next to the data (LICENSES/<package>/).
var licenceFiles = []string{"NRO_LICENSE", "DBIP-LICENSE", "ROUTEVIEWS-LICENSE", "MODIFICATIONS"}

func generate(o options) error {
	country, err := readPackage(o.countryTGZ, o.countryIntegrity)
	if err != nil {
		return err
	}
	asn, err := readPackage(o.asnTGZ, o.asnIntegrity)
	if err != nil {
		return err
	}
	date, err := versionDate(country.version)
	if err != nil {
		return err
	}
	if d, err := versionDate(asn.version); err != nil {
		return err
	} else if d.After(date) {
		date = d
	}
	cbin, cranges, err := buildCountry(country.files["geo-whois-asn-country-ipv4.csv"], country.files["geo-whois-asn-country-ipv6.csv"])
	if err != nil {
		return fmt.Errorf("%s: %w", country.name, err)
	}
	abin, astats, err := buildASN(asn.files["asn-ipv4.csv"], asn.files["asn-ipv6.csv"])
	if err != nil {
		return fmt.Errorf("%s: %w", asn.name, err)
	}
	snap := rangefile.Snapshot{
		Date:    date,
		Country: rangefile.Source{Package: country.name, Version: country.version, Integrity: country.integrity, Ranges: cranges},
		ASN:     rangefile.Source{Package: asn.name, Version: asn.version, Integrity: asn.integrity, Ranges: astats.ranges},
		ASNs:    astats.pairs, Orgs: astats.orgs,
	}
	src, err := snapshotSource(snap)
	if err != nil {
		return err
	}
	files := map[string][]byte{"country.bin": cbin, "asn.bin": abin, "snapshot.go": src}
	for _, p := range []pkg{country, asn} {
		dir := filepath.Join("LICENSES", strings.TrimPrefix(p.name, "@ip-location-db/"))
		for _, f := range licenceFiles {
			if b, ok := p.files[f]; ok {
				files[filepath.Join(dir, f)] = b
			}
		}
	}
	for name, b := range files {
		path := filepath.Join(o.out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readPackage reads an npm tarball after checking it against its pinned
// integrity, keeping package.json's name and version and the files the
// generator uses.
func readPackage(path, integrity string) (pkg, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return pkg{}, err
	}
	sum := sha512.Sum512(raw)
	got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	if got != integrity {
		return pkg{}, fmt.Errorf("%s: integrity %s, pinned %s", path, got, integrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return pkg{}, fmt.Errorf("%s: %w", path, err)
	}
	p := pkg{integrity: integrity, files: map[string][]byte{}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pkg{}, fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimPrefix(h.Name, "package/")
		if h.Typeflag != tar.TypeReg || strings.Contains(name, "/") {
			continue
		}
		if name == "package.json" || strings.HasSuffix(name, ".csv") && !strings.HasSuffix(name, "-num.csv") || slices.Contains(licenceFiles, name) {
			b, err := io.ReadAll(tr)
			if err != nil {
				return pkg{}, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			p.files[name] = b
		}
	}
	var meta struct{ Name, Version string }
	if err := json.Unmarshal(p.files["package.json"], &meta); err != nil || meta.Name == "" || meta.Version == "" {
		return pkg{}, fmt.Errorf("%s: no package.json name and version", path)
	}
	p.name, p.version = meta.Name, meta.Version
	return p, nil
}

// versionDate reads the build hour from an ip-location-db version such as
// 2.3.2026061719 (YYYYMMDDHH, UTC).
func versionDate(v string) (time.Time, error) {
	i := strings.LastIndexByte(v, '.')
	d, err := time.Parse("2006010215", v[i+1:])
	if err != nil {
		return time.Time{}, fmt.Errorf("version %q: want a YYYYMMDDHH build number: %w", v, err)
	}
	return d.UTC(), nil
}

// u128 is an address as a 128-bit number (IPv4 in the low 32 bits).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) sub(b u128) u128 {
	lo := a.lo - b.lo
	hi := a.hi - b.hi
	if a.lo < b.lo {
		hi--
	}
	return u128{hi, lo}
}

func addrNum(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// srcRange is one CSV row: a range, its value (1-based; 0 is unknown) and
// its row number (later rows win ties).
type srcRange struct {
	start, end u128
	val        uint32
	row        int
}

// entry is one start of the flat table.
type entry struct {
	start u128
	val   uint32
}

// readRanges reads start_ip,end_ip,value... rows of one family; value maps
// the rest of a row to a table value (0: skip the row).
func readRanges(data []byte, v6 bool, value func(row []string) (uint32, error)) ([]srcRange, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var out []srcRange
	for line := 1; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(row) < 3 {
			return nil, fmt.Errorf("line %d: want start,end,value", line)
		}
		s, err1 := netip.ParseAddr(row[0])
		e, err2 := netip.ParseAddr(row[1])
		if err1 != nil || err2 != nil || s.Is6() != v6 || e.Is6() != v6 || e.Less(s) {
			return nil, fmt.Errorf("line %d: bad range %s-%s", line, row[0], row[1])
		}
		v, err := value(row[2:])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if v == 0 {
			continue
		}
		// As CIDR blocks: flatten's "smallest wins" is then the longest
		// prefix match that SM_ASN_CSV files get (geo/asncsv.go).
		for _, p := range netipx.IPRangeFrom(s, e).Prefixes() {
			out = append(out, srcRange{start: addrNum(p.Addr()), end: addrNum(netipx.PrefixLastIP(p)), val: v, row: line})
		}
	}
	return out, nil
}

// flatten turns possibly overlapping ranges into sorted starts with gaps as
// value 0. Where ranges overlap, the smallest (most specific) wins, then
// the later row.
func flatten(rows []srcRange, max u128) []entry {
	slices.SortStableFunc(rows, func(a, b srcRange) int {
		switch {
		case a.start.less(b.start):
			return -1
		case b.start.less(a.start):
			return 1
		}
		return a.row - b.row
	})
	bounds := make([]u128, 0, 2*len(rows)+1)
	bounds = append(bounds, u128{})
	for _, r := range rows {
		bounds = append(bounds, r.start)
		if r.end != max {
			next := r.end
			if next.lo++; next.lo == 0 {
				next.hi++
			}
			bounds = append(bounds, next)
		}
	}
	slices.SortFunc(bounds, func(a, b u128) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	bounds = slices.Compact(bounds)
	better := func(a, b srcRange) bool { // a wins over b
		sa, sb := a.end.sub(a.start), b.end.sub(b.start)
		if sa != sb {
			return sa.less(sb)
		}
		return a.row > b.row
	}
	var active heap
	var out []entry
	j := 0
	for _, b := range bounds {
		for j < len(rows) && !b.less(rows[j].start) {
			active.push(rows[j], better)
			j++
		}
		for len(active) > 0 && active[0].end.less(b) {
			active.pop(better)
		}
		var v uint32
		if len(active) > 0 {
			v = active[0].val
		}
		if len(out) > 0 && out[len(out)-1].val == v {
			continue
		}
		out = append(out, entry{b, v})
	}
	return out
}

// heap is a binary heap of ranges, best (by the given order) first.
type heap []srcRange

func (h *heap) push(r srcRange, better func(a, b srcRange) bool) {
	*h = append(*h, r)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !better(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *heap) pop(better func(a, b srcRange) bool) {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, best := 2*i+1, i
		if l < n && better(s[l], s[best]) {
			best = l
		}
		if l+1 < n && better(s[l+1], s[best]) {
			best = l + 1
		}
		if best == i {
			break
		}
		s[i], s[best] = s[best], s[i]
		i = best
	}
	*h = s
}

var (
	max4 = u128{0, 1<<32 - 1}
	max6 = u128{^uint64(0), ^uint64(0)}
)

// file builds a builtin file from its sections.
func file(kind uint32, sections [][]byte) []byte {
	le := binary.LittleEndian
	hdr := make([]byte, rangefile.HeaderSize+8*len(sections))
	copy(hdr, rangefile.Magic)
	le.PutUint32(hdr[8:], kind)
	le.PutUint32(hdr[12:], uint32(len(sections)))
	out := hdr
	for i, s := range sections {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		le.PutUint32(out[rangefile.HeaderSize+8*i:], uint32(len(out)))
		le.PutUint32(out[rangefile.HeaderSize+8*i+4:], uint32(len(s)))
		out = append(out, s...)
	}
	return out
}

// tableSections encodes the two families' entries: v4 starts, v4 values,
// v6 high halves, v6 low halves, v6 values.
func tableSections(v4, v6 []entry, width int) [][]byte {
	le := binary.LittleEndian
	put := func(b []byte, v uint32) []byte {
		if width == 1 {
			return append(b, byte(v))
		}
		return le.AppendUint32(b, v)
	}
	var s4, val4, hi6, lo6, val6 []byte
	for _, e := range v4 {
		s4 = le.AppendUint32(s4, uint32(e.start.lo))
		val4 = put(val4, e.val)
	}
	for _, e := range v6 {
		hi6 = le.AppendUint64(hi6, e.start.hi)
		lo6 = le.AppendUint64(lo6, e.start.lo)
		val6 = put(val6, e.val)
	}
	return [][]byte{s4, val4, hi6, lo6, val6}
}

func known(es []entry) int {
	n := 0
	for _, e := range es {
		if e.val != 0 {
			n++
		}
	}
	return n
}

// buildCountry encodes start_ip,end_ip,CC rows.
func buildCountry(v4csv, v6csv []byte) ([]byte, int, error) {
	if v4csv == nil || v6csv == nil {
		return nil, 0, errors.New("missing the ipv4 or ipv6 CSV")
	}
	var codes []string
	for _, data := range [][]byte{v4csv, v6csv} {
		for line := range strings.SplitSeq(string(data), "\n") {
			if f := strings.Split(line, ","); len(f) >= 3 {
				codes = append(codes, strings.TrimSpace(f[2]))
			}
		}
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	if len(codes) > 255 {
		return nil, 0, fmt.Errorf("%d country codes: more than a byte holds", len(codes))
	}
	value := func(row []string) (uint32, error) {
		cc := strings.TrimSpace(row[0])
		if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
			return 0, fmt.Errorf("bad country code %q", cc)
		}
		i, _ := slices.BinarySearch(codes, cc)
		return uint32(i + 1), nil
	}
	r4, err := readRanges(v4csv, false, value)
	if err != nil {
		return nil, 0, fmt.Errorf("ipv4: %w", err)
	}
	r6, err := readRanges(v6csv, true, value)
	if err != nil {
		return nil, 0, fmt.Errorf("ipv6: %w", err)
	}
	e4, e6 := flatten(r4, max4), flatten(r6, max6)
	secs := tableSections(e4, e6, 1)
	secs = append(secs, []byte(strings.Join(codes, "")))
	return file(rangefile.KindCountry, secs), known(e4) + known(e6), nil
}

type asnStats struct{ ranges, pairs, orgs int }

// buildASN encodes start_ip,end_ip,asn,org rows, each distinct name once.
func buildASN(v4csv, v6csv []byte) ([]byte, asnStats, error) {
	if v4csv == nil || v6csv == nil {
		return nil, asnStats{}, errors.New("missing the ipv4 or ipv6 CSV")
	}
	type pair struct {
		asn uint32
		org string
	}
	// First pass: collect the pairs and names, so their order (sorted) and
	// so the output does not depend on row order.
	var pairs []pair
	collect := func(row []string) (uint32, error) {
		asn, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(row[0]), "AS"), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("bad ASN %q", row[0])
		}
		if asn == 0 {
			return 0, nil
		}
		org := ""
		if len(row) > 1 {
			org = row[1]
		}
		pairs = append(pairs, pair{uint32(asn), org})
		return 1, nil
	}
	for i, d := range [][]byte{v4csv, v6csv} {
		if _, err := readRanges(d, i == 1, collect); err != nil {
			return nil, asnStats{}, err
		}
	}
	cmpPair := func(a, b pair) int {
		if a.asn != b.asn {
			if a.asn < b.asn {
				return -1
			}
			return 1
		}
		return strings.Compare(a.org, b.org)
	}
	slices.SortFunc(pairs, cmpPair)
	pairs = slices.Compact(pairs)
	pairs = slices.Insert(pairs, 0, pair{}) // 0: unknown
	orgs := []string{""}
	for _, p := range pairs {
		orgs = append(orgs, p.org)
	}
	slices.Sort(orgs)
	orgs = slices.Compact(orgs) // "" stays first
	value := func(row []string) (uint32, error) {
		p := pair{}
		asn, _ := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(row[0]), "AS"), 10, 32)
		if asn == 0 {
			return 0, nil
		}
		p.asn = uint32(asn)
		if len(row) > 1 {
			p.org = row[1]
		}
		i, _ := slices.BinarySearchFunc(pairs, p, cmpPair)
		return uint32(i), nil
	}
	r4, err := readRanges(v4csv, false, value)
	if err != nil {
		return nil, asnStats{}, fmt.Errorf("ipv4: %w", err)
	}
	r6, err := readRanges(v6csv, true, value)
	if err != nil {
		return nil, asnStats{}, fmt.Errorf("ipv6: %w", err)
	}
	e4, e6 := flatten(r4, max4), flatten(r6, max6)
	secs := tableSections(e4, e6, 4)
	le := binary.LittleEndian
	var pasn, porg, offs, names []byte
	for _, p := range pairs {
		o, _ := slices.BinarySearch(orgs, p.org)
		pasn = le.AppendUint32(pasn, p.asn)
		porg = le.AppendUint32(porg, uint32(o))
	}
	for _, o := range orgs {
		offs = le.AppendUint32(offs, uint32(len(names)))
		names = append(names, o...)
	}
	offs = le.AppendUint32(offs, uint32(len(names)))
	secs = append(secs, pasn, porg, offs, names)
	return file(rangefile.KindASN, secs), asnStats{ranges: known(e4) + known(e6), pairs: len(pairs) - 1, orgs: len(orgs) - 1}, nil
}

// snapshotSource writes snapshot.go.
func snapshotSource(s rangefile.Snapshot) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by geo/internal/gengeo (scripts/gen-geo-builtin.sh). DO NOT EDIT.\n\n")
	b.WriteString("package builtin\n\nimport (\n\t\"time\"\n\n\t\"github.com/magic-sessionmanager/sessionmanager/geo/internal/rangefile\"\n)\n\n")
	d := s.Date
	fmt.Fprintf(&b, "var snapshot = rangefile.Snapshot{\n\tDate: time.Date(%d, %d, %d, %d, 0, 0, 0, time.UTC),\n", d.Year(), d.Month(), d.Day(), d.Hour())
	for _, src := range []struct {
		field string
		s     rangefile.Source
	}{{"Country", s.Country}, {"ASN", s.ASN}} {
		fmt.Fprintf(&b, "\t%s: rangefile.Source{Package: %q, Version: %q, Integrity: %q, Ranges: %d},\n",
			src.field, src.s.Package, src.s.Version, src.s.Integrity, src.s.Ranges)
	}
	fmt.Fprintf(&b, "\tASNs: %d,\n\tOrgs: %d,\n}\n", s.ASNs, s.Orgs)
	return format.Source(b.Bytes())
}
