package geo

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"math/big"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"
	"go4.org/netipx"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// asnEntry is the value of the ASN table; org indexes asnTable.orgs so that
// the ~80k distinct names are stored once for ~600k ranges.
type asnEntry struct {
	asn uint32
	org uint32
}

// asnTable is one loaded ASN CSV file.
type asnTable struct {
	table  *bart.Table[asnEntry]
	orgs   []string
	ranges int
	stat   fileStat
	loaded time.Time
}

// asnSource is one configured ASN CSV path and its current table.
type asnSource struct {
	path    string
	current atomic.Pointer[asnTable]
	status  reloadStatus
}

func (s *asnSource) lookup(ip netip.Addr, res *sm.GeoResult) {
	t := s.current.Load()
	if t == nil || res.Location.ASN != 0 {
		return
	}
	e, ok := t.table.Lookup(ip)
	if !ok || e.asn == 0 {
		return
	}
	res.Location.ASN = e.asn
	if res.Location.ISP == "" {
		res.Location.ISP = t.orgs[e.org]
	}
	res.Found = true
}

func (s *asnSource) reloadIfChanged() (bool, error) {
	st, err := statFile(s.path)
	if err != nil {
		return false, err
	}
	if cur := s.current.Load(); cur != nil && cur.stat.same(st) {
		return false, nil
	}
	t, err := loadASNCSV(s.path)
	if err != nil {
		return false, err
	}
	s.current.Store(t)
	return true, nil
}

// loadASNCSV reads start_ip,end_ip,asn,org rows (ip-location-db asn-ipv4.csv,
// asn-ipv6.csv, and their -num variants with decimal addresses). A header
// row and blank ASNs are skipped; a malformed row is an error naming the line.
func loadASNCSV(path string) (*asnTable, error) {
	st, err := statFile(path)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: ASN CSV %s: %v", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: ASN CSV %s: %v", path, err)
	}
	defer f.Close()
	t, err := parseASNCSV(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: ASN CSV %s: %v", path, err)
	}
	t.stat, t.loaded = st, time.Now()
	return t, nil
}

func parseASNCSV(r io.Reader) (*asnTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	t := &asnTable{table: new(bart.Table[asnEntry])}
	orgIndex := map[string]uint32{}
	var prefixes []netip.Prefix
	for line := 1; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(row) < 3 {
			return nil, errors.New("line " + strconv.Itoa(line) + ": want start,end,asn[,org]")
		}
		start, err1 := parseRangeAddr(row[0])
		end, err2 := parseRangeAddr(row[1])
		if err1 != nil || err2 != nil {
			if line == 1 {
				continue // header row
			}
			return nil, errors.New("line " + strconv.Itoa(line) + ": bad address range")
		}
		asn, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(row[2]), "AS"), 10, 32)
		if err != nil || asn == 0 {
			continue // "0"/"" means not routed: no ASN to report
		}
		rng := netipx.IPRangeFrom(start, end)
		if !rng.IsValid() {
			return nil, errors.New("line " + strconv.Itoa(line) + ": start after end")
		}
		org := ""
		if len(row) > 3 {
			org = row[3]
		}
		idx, ok := orgIndex[org]
		if !ok {
			idx = uint32(len(t.orgs))
			t.orgs = append(t.orgs, strings.Clone(org))
			orgIndex[org] = idx
		}
		prefixes = rng.AppendPrefixes(prefixes[:0])
		for _, p := range prefixes {
			t.table.Insert(p, asnEntry{asn: uint32(asn), org: idx})
		}
		t.ranges++
	}
	if t.ranges == 0 {
		return nil, errors.New("no ASN ranges")
	}
	return t, nil
}

// parseRangeAddr parses an address or its decimal number (the -num files):
// a number up to 2^32-1 is IPv4, a larger one IPv6.
func parseRangeAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || n.BitLen() > 128 {
		return netip.Addr{}, errors.New("bad address " + strconv.Quote(s))
	}
	if n.BitLen() <= 32 {
		var b [4]byte
		n.FillBytes(b[:])
		return netip.AddrFrom4(b), nil
	}
	var b [16]byte
	n.FillBytes(b[:])
	return netip.AddrFrom16(b), nil
}
