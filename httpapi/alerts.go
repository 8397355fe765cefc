package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// mountAlerts adds the alert endpoints under /api/admin/alerts. s.Alerts is
// the core's rule admin (Manager.AlertRules): it gates and audits every
// change itself.
func (s *server) mountAlerts(mux *http.ServeMux) {
	a, admin := s.Alerts, s.admin
	mux.Handle("GET /api/admin/alerts/rules", admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rules, err := a.List(r.Context())
		s.reply(w, r, http.StatusOK, nonNil(rules), err)
	})))
	mux.Handle("POST /api/admin/alerts/rules", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, err := readRule(w, r)
		if err == nil {
			rule, err = a.Create(r.Context(), rule)
		}
		s.reply(w, r, http.StatusCreated, rule, err)
	})))
	mux.Handle("PUT /api/admin/alerts/rules/{id}", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, err := readRule(w, r)
		if err == nil {
			rule, err = a.Update(r.Context(), r.PathValue("id"), rule)
		}
		s.reply(w, r, http.StatusOK, rule, err)
	})))
	mux.Handle("DELETE /api/admin/alerts/rules/{id}", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Delete(r.Context(), r.PathValue("id")); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.Handle("POST /api/admin/alerts/test", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err == nil {
			var req struct {
				Channel *sm.AlertChannel `json:"channel"`
			}
			if json.Unmarshal(body, &req) != nil || req.Channel == nil {
				err = sm.InvalidFields(map[string]string{"channel": "is required: {\"channel\": {\"type\": ..., ...}}"})
			} else {
				err = a.TestChannel(r.Context(), *req.Channel)
			}
		}
		s.reply(w, r, http.StatusOK, map[string]any{"sent": err == nil}, err)
	})))
	mux.Handle("POST /api/admin/alerts/rules/{id}/try", admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		var trial sm.RuleTrial
		if err == nil {
			var req struct {
				EventSeq *int64 `json:"eventSeq"`
			}
			if json.Unmarshal(body, &req) != nil || req.EventSeq == nil {
				err = sm.InvalidFields(map[string]string{"eventSeq": "is required: {\"eventSeq\": <the seq of a login event from /api/admin/audit>}"})
			} else {
				trial, err = s.Core.RuleTrials.TryAlertRule(r.Context(), r.PathValue("id"), *req.EventSeq)
			}
		}
		s.reply(w, r, http.StatusOK, trial, err)
	})))
	mux.Handle("GET /api/admin/alerts/deliveries", admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := sm.ParseDeliveryQuery(r.URL.Query())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ds, next, err := a.ListDeliveries(r.Context(), f)
		s.reply(w, r, http.StatusOK, page[*sm.Delivery]{Data: nonNil(ds), NextCursor: next}, err)
	})))
	mux.Handle("POST /api/admin/alerts/deliveries/{id}/retry", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			s.fail(w, r, sm.InvalidFields(map[string]string{"id": "must be a delivery id (a positive whole number)"}))
			return
		}
		err = a.RetryDelivery(r.Context(), id)
		s.reply(w, r, http.StatusOK, map[string]any{"retried": id}, err)
	})))
}

// readRule reads an alert rule from the request body ("body" names what
// is wrong with it).
func readRule(w http.ResponseWriter, r *http.Request) (sm.AlertRule, error) {
	body, err := readBody(w, r)
	if err != nil {
		return sm.AlertRule{}, err
	}
	return sm.DecodeAlertRule(body, "body")
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, decodeError(err)
	}
	return b, nil
}

// reply writes v with status, or err through s.fail (which logs the cause
// of a 500 or 503: a rule store or the outbox that failed).
func (s *server) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, isPage := v.(interface{ isPage() }); !isPage {
		v = map[string]any{"data": v}
	}
	encode(w, status, v)
}

func (page[T]) isPage() {}
