package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// securityEvent is a blocked login or refresh-token reuse, decoded for the table.
type securityEvent struct {
	*sm.Event
	// UserEmail is the user's email; Identifier what a failed sign-in
	// typed for an unknown account.
	UserEmail  string
	Identifier string
	Reason     string
	Score      *int
	Device     sm.Device
	Place      sm.Location
	Country    string
}

func decodeSecurityEvent(e *sm.Event) securityEvent {
	se := securityEvent{Event: e, Country: e.Country}
	var d struct {
		Reason string    `json:"reason"`
		Score  *int      `json:"score"`
		Device sm.Device `json:"device"`
	}
	_ = json.Unmarshal(e.Data, &d)
	var p struct {
		Location   sm.Location `json:"location"`
		Identifier string      `json:"identifier"`
	}
	_ = json.Unmarshal(e.Personal, &p)
	se.Identifier = p.Identifier
	se.Reason, se.Score, se.Device, se.Place = reasonLabel(d.Reason), d.Score, d.Device, p.Location
	if se.Reason == "" && e.Type == sm.EventRefreshReuse {
		se.Reason = reasonLabel("refresh_reuse")
	}
	if se.Country == "" {
		se.Country = p.Location.CountryCode
	}
	return se
}

type securityData struct {
	// Kind is the events tab: all, failed, blocked or reuse.
	Kind       string
	Kinds      []auditType
	Form       map[string]string // from, to as datetime-local values
	Events     []securityEvent
	NextEvents string
	Paged      bool
	Self       string // this view's first page
	LiveURL    string
	Errors     map[string]string
	// Bursts are the addresses with many failed sign-ins in the range
	// (the last 24 hours when no range is set).
	Bursts      []sm.LoginBurst
	BurstsSince time.Time

	AlertsEnabled  bool
	Deliveries     []securityDelivery
	DeliveryStatus string
	NextDeliveries string
	Error          string
}

// securityDelivery is an alert delivery with its rule's name.
type securityDelivery struct {
	*sm.Delivery
	RuleName string
}

// securityKinds are the events tabs, each a set of event types.
var securityKinds = map[string][]string{
	"all":     {sm.EventLoginFailed, sm.EventLoginBlocked, sm.EventRefreshReuse},
	"failed":  {sm.EventLoginFailed},
	"blocked": {sm.EventLoginBlocked},
	"reuse":   {sm.EventRefreshReuse},
}

var securityKindTabs = []auditType{{"all", "All"}, {"failed", "Failed sign-ins"}, {"blocked", "Blocked"}, {"reuse", "Token reuse"}}

// securityQuery is the page's filter, canonical: kind and the time range.
func securityQuery(in url.Values) url.Values {
	q := url.Values{}
	if k := in.Get("kind"); k != "" && k != "all" && securityKinds[k] != nil {
		q.Set("kind", k)
	}
	for k, v := range auditQuery(in) {
		if k == "from" || k == "to" {
			q[k] = v
		}
	}
	return q
}

func (s *server) loadSecurity(r *http.Request, withDeliveries bool) (securityData, int, error) {
	in := r.URL.Query()
	q := securityQuery(in)
	d := securityData{Kind: cmp.Or(q.Get("kind"), "all"), Kinds: securityKindTabs, Form: map[string]string{},
		AlertsEnabled: s.d.Alerts != nil, DeliveryStatus: in.Get("dstatus")}
	d.Self = "/admin/security"
	if len(q) > 0 {
		d.Self += "?" + q.Encode()
	}
	d.LiveURL = "/admin/security/fragment"
	if len(q) > 0 {
		d.LiveURL += "?" + q.Encode()
	}
	pq := cloneValues(q)
	pq.Del("kind")
	pq.Set("type", strings.Join(securityKinds[d.Kind], ","))
	timeForm(q, d.Form)
	ctx := r.Context()
	f, events, next, paged, errs, err := s.eventPage(ctx, "/admin/security", in, q, pq)
	d.Paged, d.Errors = paged, errs
	if err != nil || errs != nil {
		return d, http.StatusBadRequest, err
	}
	emails := s.userEmails(ctx, events)
	for _, e := range events {
		se := decodeSecurityEvent(e)
		se.UserEmail = emails[e.UserID]
		d.Events = append(d.Events, se)
	}
	d.NextEvents = next
	// Bursts: every failed sign-in of the range, at most 500 (the newest).
	bf := sm.EventFilter{Types: []string{sm.EventLoginFailed}, From: f.From, To: f.To, Desc: true, Limit: 500}
	if bf.From.IsZero() {
		bf.From = s.now().Add(-24 * time.Hour)
	}
	d.BurstsSince = bf.From
	failed, _, err := s.d.Core.Audit.ListEvents(ctx, bf)
	if err != nil {
		return d, 0, err
	}
	d.Bursts = sm.FailedLoginBursts(failed, sm.BurstThreshold)
	if !withDeliveries || s.d.Alerts == nil {
		return d, http.StatusOK, nil
	}
	switch d.DeliveryStatus {
	case "", sm.DeliveryPending, sm.DeliveryDelivered, sm.DeliveryDead, sm.DeliveryDropped:
	default:
		d.DeliveryStatus = ""
	}
	dcur := in.Get("dcursor")
	if len(dcur) > 512 {
		dcur = ""
	}
	ds, dnext, err := s.d.Alerts.ListDeliveries(ctx, sm.DeliveryFilter{Status: d.DeliveryStatus, Limit: 50, Cursor: dcur})
	if err != nil {
		return d, 0, err
	}
	names := map[string]string{}
	if rules, err := s.d.Alerts.List(ctx); err == nil {
		for _, rule := range rules {
			names[rule.ID] = rule.Name
		}
	}
	for _, x := range ds {
		d.Deliveries = append(d.Deliveries, securityDelivery{Delivery: x, RuleName: names[x.RuleID]})
	}
	if dnext != "" {
		d.NextDeliveries = "/admin/security?" + url.Values{"dstatus": {d.DeliveryStatus}, "dcursor": {dnext}}.Encode()
	}
	return d, http.StatusOK, nil
}

func (s *server) handleSecurity(w http.ResponseWriter, r *http.Request) {
	d, status, err := s.loadSecurity(r, true)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, "security", "Security", "security", d)
}

// handleSecurityFragment is the blocked-attempts table alone, for the live refresh.
func (s *server) handleSecurityFragment(w http.ResponseWriter, r *http.Request) {
	d, status, err := s.loadSecurity(r, false)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	s.renderFragment(w, r, "security", "security_events", d)
}

func (s *server) handleRetryDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, http.StatusBadRequest, "Bad delivery", "Not a delivery id.")
		return
	}
	if err := s.d.Alerts.RetryDelivery(r.Context(), id); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectBack(w, r, "/admin/security", "retried")
}

// userEmails maps the user ids of events to their emails (one lookup per
// user; an erased or unknown user has none).
func (s *server) userEmails(ctx context.Context, events []*sm.Event) map[string]string {
	emails := map[string]string{}
	for _, e := range events {
		if e.UserID == "" {
			continue
		}
		if _, seen := emails[e.UserID]; seen {
			continue
		}
		emails[e.UserID] = ""
		if u, err := s.d.Core.Users.User(ctx, e.UserID); err == nil {
			emails[e.UserID] = u.Email
		}
	}
	return emails
}
