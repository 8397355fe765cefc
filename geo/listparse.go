package geo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Feed formats, detected from the content (never from the URL or file name).
const (
	// FormatPlain is one IP or CIDR a line with "#" and ";" comments:
	// FireHOL netsets, Spamhaus DROP text ("1.2.3.0/24 ; SBL123"), the Tor
	// bulk exit list, Cloudflare's ips-v4/ips-v6, X4BNet lists.
	FormatPlain = "plain"
	// FormatTorExitAddresses is TorDNSEL's exit-addresses
	// ("ExitNode ...", "ExitAddress 1.2.3.4 2024-01-01 00:00:00").
	FormatTorExitAddresses = "tor-exit-addresses"
	// FormatAWS is https://ip-ranges.amazonaws.com/ip-ranges.json.
	FormatAWS = "aws-json"
	// FormatGCP is https://www.gstatic.com/ipranges/cloud.json.
	FormatGCP = "gcp-json"
	// FormatOracle is Oracle Cloud's public_ip_ranges.json.
	FormatOracle = "oracle-json"
	// FormatSpamhausJSON is Spamhaus DROP's JSON lines
	// ({"cidr":..,"sblid":..} then a {"type":"metadata",..} line).
	FormatSpamhausJSON = "spamhaus-json"
	// FormatGeofeed is an RFC 8805 geofeed CSV (prefix,country,region,city,postal),
	// e.g. DigitalOcean's.
	FormatGeofeed = "geofeed-csv"
)

// feedData is a parsed list: its prefixes (deduplicated), the lines that
// were not addresses, and the detected format.
type feedData struct {
	prefixes []netip.Prefix
	bad      int
	format   string
}

// errUnrecognised marks content in no supported format.
var errUnrecognised = errors.New("unrecognised format")

// parseFeed detects the format of data and reads its prefixes. JSON that
// does not parse (a truncated download) and content in no known format are
// errors; in line formats a line that is not an address is counted in bad,
// not fatal (one typo must not drop a whole list), unless most lines are
// bad, which means the content is something else (an HTML error page).
func parseFeed(data []byte) (feedData, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	var fd feedData
	var err error
	switch {
	case len(trimmed) == 0:
		return feedData{format: FormatPlain}, nil
	case trimmed[0] == '{':
		fd, err = parseJSONFeed(trimmed)
	case trimmed[0] == '<':
		return feedData{}, fmt.Errorf("%w (HTML or XML, not a list)", errUnrecognised)
	default:
		fd, err = parseLineFeed(data)
	}
	if err != nil {
		return feedData{}, err
	}
	fd.prefixes = dropShortPrefixes(&fd)
	if fd.bad > 0 && len(fd.prefixes) == 0 {
		return feedData{}, fmt.Errorf("%w: none of its %d entries is a usable address or range", errUnrecognised, fd.bad)
	}
	fd.prefixes = dedupePrefixes(fd.prefixes)
	return fd, nil
}

// Shortest prefixes a threat list may hold. No real list entry covers more
// than a /8 (IPv4) or a /16 (IPv6); a shorter one is almost always a cut
// line ("104.244.72.0/24" truncated to "104.244.72.0/2", a quarter of
// IPv4) and counts as a bad entry.
const (
	minListBits4 = 8
	minListBits6 = 16
)

// dropShortPrefixes removes the prefixes shorter than the minimum and
// counts them in fd.bad.
func dropShortPrefixes(fd *feedData) []netip.Prefix {
	out := fd.prefixes[:0]
	for _, p := range fd.prefixes {
		if !longEnough(p) {
			fd.bad++
			continue
		}
		out = append(out, p)
	}
	return out
}

// cutFinalLine splits off the last line of a multi-line body when it has
// no trailing newline and may have been cut mid-entry: a download or a
// file write that stopped at "...\n104.244.72.0/2". A single-line body is
// whole. The unterminated line is kept when its entry is provably
// complete, because several real lists (Cloudflare's ips-v4) end without a
// newline: a separator follows the address ("1.2.3.0/24 ; SBL1",
// "1.2.3.0/24,US"), or it is an "address/length" long enough to pass the
// minimum (no cut of a longer line reads as one once prefixes shorter than
// /8 or /16 are refused). A bare address ("185.220.101.4" may be the cut
// of "185.220.101.45") or anything else is cut off.
func cutFinalLine(data []byte) (body []byte, cut bool) {
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 || len(bytes.TrimSpace(data[:i])) == 0 {
		return data, false
	}
	last := string(bytes.TrimSpace(data[i+1:]))
	if last == "" {
		return data, false
	}
	field, _, sep := strings.Cut(strings.Map(func(r rune) rune {
		if r == '\t' || r == ',' || r == ';' || r == '#' {
			return ' '
		}
		return r
	}, last), " ")
	if p, ok := parsePrefixOrAddr(field); ok && (sep || strings.Contains(field, "/") && longEnough(p)) {
		return data, false
	}
	return data[:i+1], true
}

// longEnough reports whether p is no shorter than a list entry can be.
func longEnough(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() >= minListBits4
	}
	return p.Bits() >= minListBits6
}

// parseLineFeed reads the line formats: plain, Tor exit-addresses, geofeed CSV.
func parseLineFeed(data []byte) (feedData, error) {
	fd := feedData{format: FormatPlain}
	data, cut := cutFinalLine(data)
	if cut {
		fd.bad++
	}
	first := true
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	lines := fd.bad
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lines++
		if first {
			first = false
			switch {
			case strings.HasPrefix(line, "ExitNode") || strings.HasPrefix(line, "ExitAddress"):
				fd.format = FormatTorExitAddresses
			case isGeofeedLine(line):
				fd.format = FormatGeofeed
			}
		}
		var field string
		switch fd.format {
		case FormatTorExitAddresses:
			fields := strings.Fields(line)
			switch fields[0] {
			case "ExitNode", "Published", "LastStatus":
				continue
			case "ExitAddress":
				if len(fields) < 2 {
					fd.bad++
					continue
				}
				field = fields[1]
			default:
				fd.bad++
				continue
			}
		case FormatGeofeed:
			field, _, _ = strings.Cut(line, ",")
			field = strings.TrimSpace(field)
		default:
			field = strings.TrimSuffix(strings.Fields(line)[0], ",")
		}
		p, ok := parsePrefixOrAddr(field)
		if !ok {
			fd.bad++
			continue
		}
		fd.prefixes = append(fd.prefixes, p)
	}
	if err := sc.Err(); err != nil {
		return feedData{}, err
	}
	if fd.bad > 0 && (len(fd.prefixes) == 0 || fd.bad > len(fd.prefixes)) {
		return feedData{}, fmt.Errorf("%w: %d of %d lines are not addresses", errUnrecognised, fd.bad, lines)
	}
	return fd, nil
}

// isGeofeedLine reports whether line looks like "prefix,country,...".
func isGeofeedLine(line string) bool {
	prefix, rest, ok := strings.Cut(line, ",")
	if !ok || strings.TrimSpace(rest) == "" {
		return false
	}
	_, ok = parsePrefixOrAddr(strings.TrimSpace(prefix))
	return ok
}

// parseJSONFeed reads the providers' JSON documents and Spamhaus JSON lines.
func parseJSONFeed(data []byte) (feedData, error) {
	// Spamhaus DROP: one object a line, the first one with a top-level
	// "cidr" (a minified Oracle document has "cidr" deeper down).
	if line, _, _ := bytes.Cut(data, []byte("\n")); bytes.Contains(line, []byte(`"cidr"`)) {
		var first struct {
			CIDR string `json:"cidr"`
		}
		if json.Unmarshal(bytes.TrimSpace(line), &first) == nil && first.CIDR != "" {
			return parseSpamhausJSON(data)
		}
	}
	var doc struct {
		Prefixes []struct {
			AWS  string `json:"ip_prefix"`
			GCP4 string `json:"ipv4Prefix"`
			GCP6 string `json:"ipv6Prefix"`
		} `json:"prefixes"`
		IPv6Prefixes []struct {
			AWS string `json:"ipv6_prefix"`
		} `json:"ipv6_prefixes"`
		Regions []struct {
			CIDRs []struct {
				CIDR string `json:"cidr"`
			} `json:"cidrs"`
		} `json:"regions"`
		SyncToken    *json.RawMessage `json:"syncToken"`
		LastUpdated  *json.RawMessage `json:"last_updated_timestamp"`
		CreateDate   *json.RawMessage `json:"createDate"`
		CreationTime *json.RawMessage `json:"creationTime"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return feedData{}, fmt.Errorf("JSON does not parse (truncated or corrupt): %v", err)
	}
	var fd feedData
	var raw []string
	switch {
	case doc.IPv6Prefixes != nil || doc.CreateDate != nil:
		fd.format = FormatAWS
		for _, p := range doc.Prefixes {
			raw = append(raw, p.AWS)
		}
		for _, p := range doc.IPv6Prefixes {
			raw = append(raw, p.AWS)
		}
	case doc.Prefixes != nil && (doc.CreationTime != nil || doc.SyncToken != nil):
		fd.format = FormatGCP
		for _, p := range doc.Prefixes {
			raw = append(raw, p.GCP4+p.GCP6)
		}
	case doc.Regions != nil:
		fd.format = FormatOracle
		for _, r := range doc.Regions {
			for _, c := range r.CIDRs {
				raw = append(raw, c.CIDR)
			}
		}
	default:
		return feedData{}, fmt.Errorf("%w: JSON without AWS, Google Cloud or Oracle range fields", errUnrecognised)
	}
	for _, s := range raw {
		if p, ok := parsePrefixOrAddr(strings.TrimSpace(s)); ok {
			fd.prefixes = append(fd.prefixes, p)
		} else {
			fd.bad++
		}
	}
	return fd, nil
}

// parseSpamhausJSON reads DROP's JSON lines. The metadata line comes last:
// without it, or with fewer records than it announces, the download was cut.
func parseSpamhausJSON(data []byte) (feedData, error) {
	fd := feedData{format: FormatSpamhausJSON}
	meta := false
	announced := 0
	n := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		n++
		var rec struct {
			CIDR    string `json:"cidr"`
			Type    string `json:"type"`
			Records int    `json:"records"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return feedData{}, fmt.Errorf("line %d of the Spamhaus JSON does not parse (truncated or corrupt): %v", n, err)
		}
		if rec.Type == "metadata" {
			meta, announced = true, rec.Records
			continue
		}
		if p, ok := parsePrefixOrAddr(rec.CIDR); ok {
			fd.prefixes = append(fd.prefixes, p)
		} else {
			fd.bad++
		}
	}
	if !meta {
		return feedData{}, errors.New("the Spamhaus JSON lacks its closing metadata line (truncated)")
	}
	if announced > 0 && len(fd.prefixes)+fd.bad < announced {
		return feedData{}, fmt.Errorf("the Spamhaus JSON has %d records, its metadata announces %d (truncated)", len(fd.prefixes)+fd.bad, announced)
	}
	return fd, nil
}

// dedupePrefixes drops repeated prefixes (AWS lists a range once per
// service), keeping the first order.
func dedupePrefixes(in []netip.Prefix) []netip.Prefix {
	seen := make(map[netip.Prefix]struct{}, len(in))
	out := in[:0]
	for _, p := range in {
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, p)
	}
	return out
}

// parsePrefixOrAddr parses "1.2.3.0/24" or "1.2.3.4" (a /32 or /128);
// IPv4-mapped IPv6 forms are unmapped so that they match unmapped lookups.
func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), true
}
