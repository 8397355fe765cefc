package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The audit log page: every admin action and security event, filtered by
// the admin API's vocabulary (sm.ParseEventQuery: type, actor, user, ip,
// from, to), so a filtered URL is shareable and its export is the same
// filter through the core's exporter.

// auditFilterKeys are the query parameters of the page's filter.
var auditFilterKeys = []string{"type", "actor", "user", "ip", "seq", "from", "to"}

// localMinute is the value of an <input type=datetime-local> (read as UTC).
const localMinute = "2006-01-02T15:04"

// auditQuery reads the page's filter from the query string: the form's
// datetime-local times become RFC 3339 (UTC), every other value is the
// API's. It returns the canonical query (for links and the export).
func auditQuery(in url.Values) url.Values {
	q := url.Values{}
	for _, k := range auditFilterKeys {
		v := strings.TrimSpace(in.Get(k))
		if v == "" {
			continue
		}
		if k == "from" || k == "to" {
			if t, err := time.Parse(localMinute, v); err == nil {
				v = t.UTC().Format(time.RFC3339)
			}
		}
		q.Set(k, v)
	}
	return q
}

// auditType is one option of the type filter.
type auditType struct{ Value, Label string }

// auditTypes are the type filter's options: groups first, then each type.
var auditTypes = func() []auditType {
	out := []auditType{
		{sm.EventLoginSucceeded + "," + sm.EventLoginFailed + "," + sm.EventLoginBlocked, "All sign-in attempts"},
		{sm.EventLoginFailed + "," + sm.EventLoginBlocked + "," + sm.EventRefreshReuse, "Security events (failed, blocked, token reuse)"},
		{sm.EventAdminAction + "," + sm.EventSettingsChanged + "," + sm.EventUserBlocked + "," + sm.EventUserUnblocked + "," + sm.EventUserErased, "Admin actions and changes"},
	}
	var each []auditType
	for typ, label := range eventLabels {
		each = append(each, auditType{typ, label})
	}
	slices.SortFunc(each, func(a, b auditType) int { return strings.Compare(a.Label, b.Label) })
	return append(out, each...)
}()

// auditRow is one event as the table shows it.
type auditRow struct {
	*sm.Event
	Actor string
	// ActorFilter is the actor filter that lists this actor's events: an
	// admin's email, or the actor id (token:<name>).
	ActorFilter string
	UserEmail   string
	Detail      string
	// RuleID links a rule the event names.
	RuleID string
}

func newAuditRow(e *sm.Event) auditRow {
	var d struct {
		Rule   string `json:"rule"`
		RuleID string `json:"ruleId"`
	}
	_ = json.Unmarshal(e.Data, &d)
	row := auditRow{Event: e, Actor: e.ActorName(), ActorFilter: e.ActorID, Detail: eventReason(e), RuleID: d.RuleID}
	if strings.Contains(row.Actor, "@") {
		row.ActorFilter = row.Actor
	}
	if row.RuleID == "" {
		row.RuleID = d.Rule
	}
	return row
}

// auditVerify is the result of "verify chain".
type auditVerify struct {
	OK          bool
	Events      int64
	Checkpoints int
	Kind        string
	Message     string
}

type auditData struct {
	Types []auditType
	// Form is the filter as typed (times as datetime-local values).
	Form map[string]string
	Rows []auditRow
	Next string
	// Query is the canonical filter ("" for none); the links below keep it.
	Query                        string
	Self, VerifyURL, CSV, NDJSON string
	Errors                       map[string]string
	Verify                       *auditVerify
	// Paged is true past the first page.
	Paged bool
}

func (s *server) loadAudit(r *http.Request) (auditData, int, error) {
	in := r.URL.Query()
	q := auditQuery(in)
	d := auditData{Types: auditTypes, Form: map[string]string{}, Query: q.Encode()}
	with := func(path string, extra ...string) string {
		v := cloneValues(q)
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	d.Self, d.VerifyURL = with("/admin/audit"), with("/admin/audit/verify")
	d.CSV, d.NDJSON = with("/admin/audit/export", "format", "csv"), with("/admin/audit/export", "format", "ndjson")
	for _, k := range auditFilterKeys {
		d.Form[k] = strings.TrimSpace(in.Get(k))
		if (k == "from" || k == "to") && q.Get(k) != "" {
			if t, err := time.Parse(time.RFC3339, q.Get(k)); err == nil {
				d.Form[k] = t.UTC().Format(localMinute)
			}
		}
	}
	pq := cloneValues(q)
	pq.Set("order", "desc")
	pq.Set("limit", "50")
	if c := in.Get("cursor"); c != "" && len(c) <= 512 {
		pq.Set("cursor", c)
		d.Paged = true
	}
	f, err := sm.ParseEventQuery(pq)
	if err != nil {
		d.Errors = fieldErrors(err)
		return d, http.StatusBadRequest, nil
	}
	events, next, err := s.d.Core.Audit.ListEvents(r.Context(), f)
	if err != nil {
		if sm.ErrorCode(err) == sm.EINVALID {
			d.Errors = fieldErrors(err)
			return d, http.StatusBadRequest, nil
		}
		return d, 0, err
	}
	emails := s.userEmails(r.Context(), events)
	for _, e := range events {
		row := newAuditRow(e)
		row.UserEmail = emails[e.UserID]
		d.Rows = append(d.Rows, row)
	}
	if next != "" {
		nq := cloneValues(q)
		nq.Set("cursor", next)
		d.Next = "/admin/audit?" + nq.Encode()
	}
	return d, http.StatusOK, nil
}

func (s *server) handleAudit(w http.ResponseWriter, r *http.Request) {
	d, status, err := s.loadAudit(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, "audit", "Audit log", "audit", d)
}

// handleAuditExport streams the page's filter as CSV or NDJSON through the
// core's exporter (the admin API's export), which audits it.
func (s *server) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	q := auditQuery(r.URL.Query())
	q.Set("format", r.URL.Query().Get("format"))
	r.URL.RawQuery = q.Encode()
	sm.Exports{Audit: s.d.Core.Audit, Now: s.now, Log: s.log, Fail: s.serverError}.ServeAudit(w, r)
}

// handleAuditVerify checks the chain (the core's verification) and shows
// the result above the log.
func (s *server) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := s.d.Core.Audit.VerifyAudit(r.Context())
	v := &auditVerify{OK: err == nil, Events: rep.Events, Checkpoints: rep.Checkpoints}
	var ce *sm.ChainError
	switch {
	case errors.As(err, &ce):
		v.Kind, v.Message = ce.Kind, ce.Error()
		s.log.Error("audit log verification failed", "kind", ce.Kind, "seq", ce.Seq, "err", ce)
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	d, status, err := s.loadAudit(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Verify = v
	s.render(w, r, status, "audit", "Audit log", "audit", d)
}
