package geo

import (
	"bufio"
	"io"
	"net/netip"
	"strings"
)

// parseList reads a threat list: one IP or CIDR a line; "#" and ";" start a
// comment; blank lines are skipped. The Tor Project's formats both work: the
// bulk exit list (one IP a line) and exit-addresses ("ExitAddress IP date",
// other keyword lines ignored). Lines that are not addresses are counted in
// bad, not fatal: one typo must not drop a whole list.
func parseList(r io.Reader) (prefixes []netip.Prefix, bad int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		field := fields[0]
		switch field {
		case "ExitAddress":
			if len(fields) < 2 {
				bad++
				continue
			}
			field = fields[1]
		case "ExitNode", "Published", "LastStatus":
			continue
		}
		p, ok := parsePrefixOrAddr(strings.TrimSuffix(field, ","))
		if !ok {
			bad++
			continue
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, bad, sc.Err()
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
