package web

import (
	"context"
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

func (s *server) loadAudit(r *http.Request) (d auditData, status int, err error) {
	in := r.URL.Query()
	q := auditQuery(in)
	d = auditData{Types: auditTypes, Form: map[string]string{}, Query: q.Encode()}
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
	}
	timeForm(q, d.Form)
	var events []*sm.Event
	_, events, d.Next, d.Paged, d.Errors, err = s.eventPage(r.Context(), "/admin/audit", in, q, cloneValues(q))
	if err != nil || d.Errors != nil {
		return d, http.StatusBadRequest, err
	}
	emails := s.userEmails(r.Context(), events)
	for _, e := range events {
		row := newAuditRow(e)
		row.UserEmail = emails[e.UserID]
		d.Rows = append(d.Rows, row)
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

// timeForm sets form's from and to to the canonical filter's times as
// datetime-local values (UTC), for the inputs.
func timeForm(q url.Values, form map[string]string) {
	for _, k := range []string{"from", "to"} {
		if t, err := time.Parse(time.RFC3339, q.Get(k)); err == nil {
			form[k] = t.UTC().Format(localMinute)
		}
	}
}

// eventPage lists one page, newest first, of the events pq (the API's
// query vocabulary) selects, from the request's cursor: the audit and
// security pages' shared step. next is the next page's address (path with
// the page's own query q and the cursor). A bad filter comes back as field
// errors (a 400 page), a failure as err.
func (s *server) eventPage(ctx context.Context, path string, in, q, pq url.Values) (f sm.EventFilter, events []*sm.Event, next string, paged bool, errs map[string]string, err error) {
	pq.Set("order", "desc")
	pq.Set("limit", "50")
	if c := in.Get("cursor"); c != "" && len(c) <= 512 {
		pq.Set("cursor", c)
		paged = true
	}
	if f, err = sm.ParseEventQuery(pq); err != nil {
		return f, nil, "", paged, fieldErrors(err), nil
	}
	events, cursor, err := s.d.Core.Audit.ListEvents(ctx, f)
	if sm.ErrorCode(err) == sm.EINVALID {
		return f, nil, "", paged, fieldErrors(err), nil
	}
	if cursor != "" {
		nq := cloneValues(q)
		nq.Set("cursor", cursor)
		next = path + "?" + nq.Encode()
	}
	return f, events, next, paged, nil, err
}
