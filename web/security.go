package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// securityEvent is a blocked login or refresh-token reuse, decoded for the table.
type securityEvent struct {
	*sm.Event
	Reason  string
	Score   *int
	Device  sm.Device
	Place   sm.Location
	Country string
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
		Location sm.Location `json:"location"`
	}
	_ = json.Unmarshal(e.Personal, &p)
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
	Events         []securityEvent
	NextEvents     string
	AlertsEnabled  bool
	Deliveries     []*sm.Delivery
	DeliveryStatus string
	NextDeliveries string
	Error          string
}

var securityTypes = []string{sm.EventLoginBlocked, sm.EventRefreshReuse}

func (s *server) loadSecurity(r *http.Request, withDeliveries bool) (securityData, error) {
	q := r.URL.Query()
	d := securityData{AlertsEnabled: s.d.Alerts != nil, DeliveryStatus: q.Get("dstatus")}
	cursor := q.Get("cursor")
	if len(cursor) > 512 {
		cursor = ""
	}
	events, next, err := s.d.Core.Audit.ListEvents(r.Context(), sm.EventFilter{Types: securityTypes, Desc: true, Limit: 50, Cursor: cursor})
	if err != nil {
		return d, err
	}
	for _, e := range events {
		d.Events = append(d.Events, decodeSecurityEvent(e))
	}
	if next != "" {
		d.NextEvents = "/admin/security?" + url.Values{"cursor": {next}}.Encode()
	}
	if !withDeliveries || s.d.Alerts == nil {
		return d, nil
	}
	switch d.DeliveryStatus {
	case "", sm.DeliveryPending, sm.DeliveryDelivered, sm.DeliveryDead, sm.DeliveryDropped:
	default:
		d.DeliveryStatus = ""
	}
	dcur := q.Get("dcursor")
	if len(dcur) > 512 {
		dcur = ""
	}
	ds, dnext, err := s.d.Alerts.ListDeliveries(r.Context(), sm.DeliveryFilter{Status: d.DeliveryStatus, Limit: 50, Cursor: dcur})
	if err != nil {
		return d, err
	}
	d.Deliveries = ds
	if dnext != "" {
		d.NextDeliveries = "/admin/security?" + url.Values{"dstatus": {d.DeliveryStatus}, "dcursor": {dnext}}.Encode()
	}
	return d, nil
}

func (s *server) handleSecurity(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadSecurity(r, true)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "security", "Security", "security", d)
}

// handleSecurityFragment is the blocked-attempts table alone, for the live refresh.
func (s *server) handleSecurityFragment(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadSecurity(r, false)
	if err != nil {
		s.serverError(w, r, err)
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
