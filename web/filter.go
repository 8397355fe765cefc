package web

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The dashboard's lists speak the admin API's query vocabulary, parsed by
// the core (sm.ParseSessionQuery, sm.ParseUserQuery). The page only adds
// its defaults (live sessions, last seen first) and writes the query back
// into its links and form.

// sessionQuery is the sessions page's query as typed: it fills the form
// and writes links; sm.ParseSessionQuery makes the filter.
type sessionQuery struct {
	Status     string // comma list; "active,inactive" (live) by default
	Country    string
	Device     string
	Threats    []string
	ScoreBelow string
	Suspected  bool
	Q          string
	IP         string
	User       string
	Sort       string
	Order      string // asc or desc
	Cursor     string
}

// statusChoice is one option of the status filter.
type statusChoice struct{ Value, Label string }

// Defaults of the sessions page, in the API's names.
const (
	liveStatus   = "active,inactive"
	defaultSort  = string(sm.SortLastSeen)
	defaultOrder = "desc"
)

var (
	statusChoices = []statusChoice{{liveStatus, "Live (online + idle)"}, {"active", "Online"}, {"inactive", "Idle"},
		{"ended", "Ended"}, {"active,inactive,ended", "All"}}
	deviceChoices = []string{"desktop", "mobile", "tablet", "tv", "bot", "unknown"}
	threatChoices = []string{"vpn", "proxy", "tor", "datacenter", "threat"}
	statusOrder   = []sm.Status{sm.StatusActive, sm.StatusInactive, sm.StatusEnded}
)

// parseSessionQuery applies the page's defaults and parses the query with
// the core's parser; bad fields are named in the map.
func parseSessionQuery(v url.Values) (sessionQuery, sm.SessionFilter, map[string]string) {
	v = cloneValues(v)
	setDefault(v, "status", liveStatus)
	setDefault(v, "sort", defaultSort)
	setDefault(v, "order", defaultOrder)
	q := sessionQuery{
		Status: v.Get("status"), Country: strings.ToUpper(strings.TrimSpace(v.Get("country"))), Device: v.Get("device"),
		ScoreBelow: strings.TrimSpace(v.Get("scoreBelow")), Q: v.Get("q"), IP: strings.TrimSpace(v.Get("ip")),
		User: v.Get("user"), Sort: v.Get("sort"), Order: strings.ToLower(v.Get("order")), Cursor: v.Get("cursor"),
	}
	for _, t := range v["threat"] {
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(q.Threats, p) {
				q.Threats = append(q.Threats, p)
			}
		}
	}
	f, err := sm.ParseSessionQuery(v)
	q.Suspected = f.Suspected
	if err != nil {
		return q, f, fieldErrors(err)
	}
	// Written back canonically, so the form's options match.
	var statuses []string
	for _, st := range statusOrder {
		if slices.Contains(f.Status, st) {
			statuses = append(statuses, string(st))
		}
	}
	q.Status, q.Sort = strings.Join(statuses, ","), string(f.Sort)
	return q, f, nil
}

// fieldErrors is the field errors of a parse error.
func fieldErrors(err error) map[string]string {
	var e *sm.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		return e.Fields
	}
	return map[string]string{"query": sm.ErrorMessage(err)}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+3)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func setDefault(v url.Values, key, def string) {
	if v.Get(key) == "" {
		v.Set(key, def)
	}
}

// legacySessionParams are the sessions page's names before the API's
// vocabulary, and their statuses.
var legacyStatus = map[string]string{"live": liveStatus, "online": "active", "idle": "inactive", "all": "active,inactive,ended"}

// renameLegacySessionQuery translates a query in the dashboard's old names
// (below=, dir=, status=live|online|idle|all) into the API's; ok is false
// when there was nothing to translate.
func renameLegacySessionQuery(v url.Values) (url.Values, bool) {
	out, changed := cloneValues(v), false
	rename := func(from, to string) {
		if vs, ok := out[from]; ok {
			if _, has := out[to]; !has {
				out[to] = vs
			}
			delete(out, from)
			changed = true
		}
	}
	rename("below", "scoreBelow")
	rename("dir", "order")
	for i, st := range out["status"] {
		if n, ok := legacyStatus[st]; ok {
			out["status"][i], changed = n, true
		}
	}
	return out, changed
}

// values writes the query back, without the cursor, dropping defaults.
func (q sessionQuery) values() url.Values {
	v := url.Values{}
	set := func(k, val, def string) {
		if val != "" && val != def {
			v.Set(k, val)
		}
	}
	set("status", q.Status, liveStatus)
	set("country", q.Country, "")
	set("device", q.Device, "")
	for _, t := range q.Threats {
		v.Add("threat", t)
	}
	set("scoreBelow", q.ScoreBelow, "")
	if q.Suspected {
		v.Set("suspected", "true")
	}
	set("q", q.Q, "")
	set("ip", q.IP, "")
	set("user", q.User, "")
	set("sort", q.Sort, defaultSort)
	set("order", q.Order, defaultOrder)
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
	if c.Sort == key && c.Order == "desc" {
		c.Order = "asc"
	} else {
		c.Order = "desc"
	}
	c.Sort = key
	return c.URL("/admin/sessions", "")
}

// SortMark is the arrow shown on the sorted column.
func (q sessionQuery) SortMark(key string) string {
	if q.Sort != key {
		return ""
	}
	if q.Order == "asc" {
		return "↑"
	}
	return "↓"
}

// RiskiestURL is the link to this filter sorted riskiest first: the
// lowest security score first.
func (q sessionQuery) RiskiestURL() string {
	c := q
	c.Sort, c.Order = string(sm.SortScore), "asc"
	return c.URL("/admin/sessions", "")
}

// Riskiest reports whether the list is sorted riskiest first.
func (q sessionQuery) Riskiest() bool { return q.Sort == string(sm.SortScore) && q.Order == "asc" }

// ExportURL is the export of this filter (every page) in format: the
// page's defaults are written out, since the export has none.
func (q sessionQuery) ExportURL(format string) string {
	v := q.values()
	v.Set("status", q.Status)
	v.Set("sort", q.Sort)
	v.Set("order", q.Order)
	v.Set("format", format)
	return "/admin/sessions/export?" + v.Encode()
}

// HasThreat reports whether the threat checkbox t is checked.
func (q sessionQuery) HasThreat(t string) bool { return slices.Contains(q.Threats, t) }

// Filtered reports whether any filter beyond the defaults is set.
func (q sessionQuery) Filtered() bool {
	v := q.values()
	v.Del("sort")
	v.Del("order")
	return len(v) > 0
}
