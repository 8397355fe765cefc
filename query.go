package sessionmanager

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The one query vocabulary of the admin lists, for the admin API and the
// dashboard alike (api/openapi.json documents it). Each parser names every
// bad parameter in one EINVALID error (InvalidFields).

// ParseSessionQuery reads the session list/export query parameters:
// status (active, inactive, ended; comma-separated or repeated), user,
// country, ip (address or CIDR), device, threat (vpn, proxy, tor,
// datacenter, threat; comma-separated or repeated), scoreBelow (0-101),
// suspected (true: only sessions session protection marked suspected),
// from, to (RFC 3339), q (a substring of email, username, IP, browser, OS,
// city or ISP, or a country's name: "germany", "uk"), sort (created_at, last_seen, score), order (asc,
// desc), limit (1-500), cursor.
func ParseSessionQuery(q url.Values) (SessionFilter, error) {
	var f SessionFilter
	bad := map[string]string{}
	for _, st := range listParam(q, "status") {
		s := Status(strings.ToLower(st))
		if !s.Valid() {
			bad["status"] = "must be active, inactive or ended (comma-separated)"
			break
		}
		if !slices.Contains(f.Status, s) {
			f.Status = append(f.Status, s)
		}
	}
	f.UserID = limitLen(q.Get("user"), 100, "user", bad)
	if c := q.Get("country"); c != "" {
		if !ValidCountry(c) {
			bad["country"] = "must be an ISO 3166-1 alpha-2 country code"
		}
		f.Country = strings.ToUpper(c)
	}
	if ip := strings.TrimSpace(q.Get("ip")); ip != "" {
		p, err := ParseIPFilter(ip)
		if err != nil {
			bad["ip"] = "must be an IP address or a CIDR prefix"
		}
		f.IPPrefix = p
	}
	if d := q.Get("device"); d != "" {
		switch d {
		case "desktop", "mobile", "tablet", "tv", "bot", "unknown":
			f.DeviceType = d
		default:
			bad["device"] = "must be desktop, mobile, tablet, tv, bot or unknown"
		}
	}
	for _, t := range listParam(q, "threat") {
		if !f.AnyThreat.SetFlag(strings.ToLower(t)) {
			bad["threat"] = "must be vpn, proxy, tor, datacenter or threat (comma-separated)"
		}
	}
	if v := q.Get("scoreBelow"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 101 {
			bad["scoreBelow"] = "must be a whole number from 0 to 101"
		}
		f.ScoreBelow = &n
	}
	if v := q.Get("suspected"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad["suspected"] = "must be true or false"
		}
		f.Suspected = b
	}
	f.From = parseTime(q.Get("from"), "from", bad)
	f.To = parseTime(q.Get("to"), "to", bad)
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		bad["to"] = "must be after from"
	}
	f.Search = limitLen(q.Get("q"), 200, "q", bad)
	f.SearchCountries = CountriesNamed(f.Search)
	switch s := q.Get("sort"); s {
	case "", "created_at", "createdAt":
		f.Sort = SortCreated
	case "last_seen", "lastSeenAt":
		f.Sort = SortLastSeen
	case "score":
		f.Sort = SortScore
	default:
		bad["sort"] = "must be created_at, last_seen or score"
	}
	f.Desc = parseOrder(q.Get("order"), bad)
	f.Limit, f.Cursor = pageParams(q, bad)
	return f, fieldsError(bad)
}

// ParseEventQuery reads the audit query parameters: type (comma list),
// user (an id or email), session, actor (an admin's id or email, or token:<name>), ip,
// seq (one event), from, to, order, limit, cursor.
func ParseEventQuery(q url.Values) (EventFilter, error) {
	var f EventFilter
	bad := map[string]string{}
	for _, t := range splitList(q.Get("type")) {
		if len(t) > 64 {
			bad["type"] = "is too long"
			break
		}
		f.Types = append(f.Types, t)
	}
	f.UserID = limitLen(q.Get("user"), 100, "user", bad)
	f.SessionID = limitLen(q.Get("session"), 100, "session", bad)
	f.ActorID = limitLen(strings.TrimSpace(q.Get("actor")), 200, "actor", bad)
	if ip := strings.TrimSpace(q.Get("ip")); ip != "" {
		if a, err := netip.ParseAddr(ip); err != nil {
			bad["ip"] = "must be an IP address"
		} else {
			f.IP = a.Unmap().String()
		}
	}
	if v := q.Get("seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad["seq"] = "must be a positive event number"
		}
		f.Seq = n
	}
	f.From = parseTime(q.Get("from"), "from", bad)
	f.To = parseTime(q.Get("to"), "to", bad)
	f.Desc = parseOrder(q.Get("order"), bad)
	f.Limit, f.Cursor = pageParams(q, bad)
	return f, fieldsError(bad)
}

// ParseUserQuery reads the user list query parameters: q (search),
// blocked (true, false), limit, cursor.
func ParseUserQuery(q url.Values) (UserFilter, error) {
	bad := map[string]string{}
	f := UserFilter{Search: limitLen(strings.TrimSpace(q.Get("q")), 200, "q", bad)}
	f.Limit, f.Cursor = pageParams(q, bad)
	if b := q.Get("blocked"); b != "" {
		v, err := strconv.ParseBool(b)
		if err != nil {
			bad["blocked"] = "must be true or false"
		}
		f.Blocked = &v
	}
	return f, fieldsError(bad)
}

// ParseDeliveryQuery reads the alert delivery list query parameters:
// status (pending, delivered, dead, dropped), limit, cursor.
func ParseDeliveryQuery(q url.Values) (DeliveryFilter, error) {
	bad := map[string]string{}
	f := DeliveryFilter{Status: q.Get("status")}
	f.Limit, f.Cursor = pageParams(q, bad)
	switch f.Status {
	case "", DeliveryPending, DeliveryDelivered, DeliveryDead, DeliveryDropped:
	default:
		bad["status"] = "must be pending, delivered, dead or dropped"
	}
	return f, fieldsError(bad)
}

// pageParams reads a list's page: limit (1-500, default 50) and cursor.
func pageParams(q url.Values, bad map[string]string) (limit int, cursor string) {
	return parseLimit(q.Get("limit"), bad), limitLen(q.Get("cursor"), 500, "cursor", bad)
}

// fieldsError is the one EINVALID error naming every bad field; nil when
// there is none.
func fieldsError(bad map[string]string) error {
	if len(bad) > 0 {
		return InvalidFields(bad)
	}
	return nil
}

// listParam is every value of a parameter, repeated or comma-separated.
func listParam(q url.Values, key string) []string {
	var out []string
	for _, v := range q[key] {
		out = append(out, splitList(v)...)
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func limitLen(v string, n int, field string, bad map[string]string) string {
	if len(v) > n {
		bad[field] = "is too long (at most " + strconv.Itoa(n) + " characters)"
		return ""
	}
	return v
}

func parseTime(v, field string, bad map[string]string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		bad[field] = "must be an RFC 3339 time like 2026-01-02T15:04:05Z"
	}
	return t.UTC()
}

func parseLimit(v string, bad map[string]string) int {
	if v == "" {
		return 50
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		bad["limit"] = "must be a whole number from 1 to 500"
		return 50
	}
	return n
}

// parseOrder reads asc or desc (the default).
func parseOrder(v string, bad map[string]string) (desc bool) {
	switch strings.ToLower(v) {
	case "", "desc":
		return true
	case "asc":
		return false
	}
	bad["order"] = "must be asc or desc"
	return true
}
