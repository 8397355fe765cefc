package web

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// sessionQuery is the sessions page's query string, parsed and validated:
// it becomes a SessionFilter and writes itself back into links.
type sessionQuery struct {
	Status  string // live (default), online, idle, ended, all
	Country string
	Device  string
	Threats []string
	Below   string // score below, kept as typed
	Q       string
	IP      string
	User    string
	Sort    string
	Dir     string // asc or desc
	Cursor  string
}

var (
	statusChoices = []string{"live", "online", "idle", "ended", "all"}
	deviceChoices = []string{"desktop", "mobile", "tablet", "tv", "bot", "unknown"}
	threatChoices = []string{"vpn", "proxy", "tor", "datacenter", "threat"}
	sortChoices   = []string{string(sm.SortCreated), string(sm.SortLastSeen), string(sm.SortScore)}
)

// parseSessionQuery validates the query; bad fields are named in the map.
func parseSessionQuery(v url.Values) (sessionQuery, sm.SessionFilter, map[string]string) {
	q := sessionQuery{
		Status: v.Get("status"), Country: strings.ToUpper(strings.TrimSpace(v.Get("country"))), Device: v.Get("device"),
		Threats: v["threat"], Below: strings.TrimSpace(v.Get("below")), Q: strings.TrimSpace(v.Get("q")),
		IP: strings.TrimSpace(v.Get("ip")), User: strings.TrimSpace(v.Get("user")),
		Sort: v.Get("sort"), Dir: v.Get("dir"), Cursor: v.Get("cursor"),
	}
	bad := map[string]string{}
	f := sm.SessionFilter{Limit: 50, Cursor: q.Cursor, UserID: q.User, Search: q.Q, Desc: true}
	if q.Status == "" {
		q.Status = "live"
	}
	switch q.Status {
	case "live":
		f.Status = []sm.Status{sm.StatusActive, sm.StatusInactive}
	case "online":
		f.Status = []sm.Status{sm.StatusActive}
	case "idle":
		f.Status = []sm.Status{sm.StatusInactive}
	case "ended":
		f.Status = []sm.Status{sm.StatusEnded}
	case "all":
	default:
		bad["status"] = "unknown status"
	}
	if q.Country != "" {
		if !sm.ValidCountry(q.Country) {
			bad["country"] = "not an ISO country code"
		}
		f.Country = q.Country
	}
	if q.Device != "" {
		if !slices.Contains(deviceChoices, q.Device) {
			bad["device"] = "unknown device type"
		}
		f.DeviceType = q.Device
	}
	for _, t := range q.Threats {
		if !f.AnyThreat.SetFlag(t) {
			bad["threat"] = "unknown threat flag"
		}
	}
	if q.Below != "" {
		n, err := strconv.Atoi(q.Below)
		if err != nil || n < 1 || n > 101 {
			bad["below"] = "a score from 1 to 100"
		} else {
			f.ScoreBelow = &n
		}
	}
	if len(q.Q) > 200 {
		bad["q"] = "at most 200 characters"
	}
	if len(q.User) > 100 {
		bad["user"] = "not a user id"
	}
	if q.IP != "" {
		p, err := sm.ParseIPFilter(q.IP)
		if err != nil {
			bad["ip"] = "an address or a CIDR prefix"
		}
		f.IPPrefix = p
	}
	if q.Sort == "" {
		q.Sort = string(sm.SortLastSeen)
	}
	if !slices.Contains(sortChoices, q.Sort) {
		bad["sort"] = "unknown sort"
	}
	f.Sort = sm.SessionSort(q.Sort)
	switch q.Dir {
	case "", "desc":
		q.Dir = "desc"
	case "asc":
		f.Desc = false
	default:
		bad["dir"] = "asc or desc"
	}
	if len(q.Cursor) > 512 {
		bad["cursor"] = "invalid cursor"
	}
	return q, f, bad
}

// values writes the query back, without the cursor, dropping defaults.
func (q sessionQuery) values() url.Values {
	v := url.Values{}
	set := func(k, val, def string) {
		if val != "" && val != def {
			v.Set(k, val)
		}
	}
	set("status", q.Status, "live")
	set("country", q.Country, "")
	set("device", q.Device, "")
	for _, t := range q.Threats {
		v.Add("threat", t)
	}
	set("below", q.Below, "")
	set("q", q.Q, "")
	set("ip", q.IP, "")
	set("user", q.User, "")
	set("sort", q.Sort, string(sm.SortLastSeen))
	set("dir", q.Dir, "desc")
	return v
}

// URL is the link to this query on path, at cursor.
func (q sessionQuery) URL(path, cursor string) string {
	v := q.values()
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// SortURL is the link that sorts by key: descending first, then toggles.
func (q sessionQuery) SortURL(key string) string {
	c := q
	if c.Sort == key && c.Dir == "desc" {
		c.Dir = "asc"
	} else {
		c.Dir = "desc"
	}
	c.Sort = key
	return c.URL("/admin/sessions", "")
}

// SortMark is the arrow shown on the sorted column.
func (q sessionQuery) SortMark(key string) string {
	if q.Sort != key {
		return ""
	}
	if q.Dir == "asc" {
		return "↑"
	}
	return "↓"
}

// HasThreat reports whether the threat checkbox t is checked.
func (q sessionQuery) HasThreat(t string) bool { return slices.Contains(q.Threats, t) }

// Filtered reports whether any filter beyond the defaults is set.
func (q sessionQuery) Filtered() bool {
	v := q.values()
	v.Del("sort")
	v.Del("dir")
	return len(v) > 0
}
