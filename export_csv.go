package sessionmanager

import (
	"strconv"
	"strings"
	"time"
)

// CSVCell makes text safe to open in a spreadsheet: a cell that begins with
// = + - @ TAB or CR would be read as a formula (OWASP "CSV injection"), so it
// gets a leading single quote. Quoting of commas, quotes and newlines is
// left to encoding/csv.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// sessionColumns is the CSV header of a session export (docs/ADMIN_API.md).
var sessionColumns = []string{
	"id", "userId", "userEmail", "username", "status", "endReason", "authMethod",
	"createdAt", "lastSeenAt", "endedAt", "expiresAt", "ip", "userAgent",
	"deviceType", "browser", "browserVersion", "os", "osVersion",
	"countryCode", "countryName", "region", "city", "latitude", "longitude", "asn", "isp",
	"vpn", "proxy", "tor", "datacenter", "knownThreat", "score", "reasons",
}

// sessionCells is one CSV row of a session; every text cell is escaped.
func sessionCells(x *Session) []string {
	ip := ""
	if x.IP.IsValid() {
		ip = x.IP.String()
	}
	codes := make([]string, len(x.Reasons))
	for i, r := range x.Reasons {
		codes[i] = r.Code
	}
	l := x.Location
	cells := []string{
		x.ID, x.UserID, x.UserEmail, x.Username, string(x.Status), string(x.EndReason), string(x.AuthMethod),
		csvTime(x.CreatedAt), csvTime(x.LastSeenAt), csvTime(x.EndedAt), csvTime(x.ExpiresAt), ip, x.UserAgent,
		x.Device.Type, x.Device.Browser, x.Device.BrowserVersion, x.Device.OS, x.Device.OSVersion,
		l.CountryCode, l.CountryName, l.Region, l.City, "", "", "", l.ISP,
		csvBool(x.Threat.VPN), csvBool(x.Threat.Proxy), csvBool(x.Threat.Tor), csvBool(x.Threat.Datacenter), csvBool(x.Threat.KnownThreat),
		strconv.Itoa(x.Score), strings.Join(codes, ";"),
	}
	for i := range cells {
		cells[i] = CSVCell(cells[i])
	}
	// Numbers are written after escaping: a negative latitude is a number,
	// not a formula, and must stay one.
	if l.HasCoordinates {
		cells[22] = strconv.FormatFloat(l.Latitude, 'f', -1, 64)
		cells[23] = strconv.FormatFloat(l.Longitude, 'f', -1, 64)
	}
	if l.ASN != 0 {
		cells[24] = strconv.FormatUint(uint64(l.ASN), 10)
	}
	return cells
}

// eventColumns is the CSV header of an audit export (docs/ADMIN_API.md).
var eventColumns = []string{
	"seq", "at", "type", "actorType", "actorId", "userId", "sessionId", "country",
	"ip", "userAgent", "erased", "data", "personal", "actor",
}

// eventCells is one CSV row of an audit event; every text cell is escaped.
func eventCells(e *Event) []string {
	cells := []string{
		strconv.FormatInt(e.Seq, 10), csvTime(e.At), e.Type, e.ActorType, e.ActorID, e.UserID, e.SessionID, e.Country,
		e.IP, e.UserAgent, csvBool(e.Erased), string(e.Data), string(e.Personal), e.ActorName(),
	}
	for i := range cells {
		cells[i] = CSVCell(cells[i])
	}
	return cells
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func csvBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
