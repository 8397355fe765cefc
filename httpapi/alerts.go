package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// AlertAdmin is what the alert endpoints need; package alert provides it
// (cmd/sessionmanager adapts it), so httpapi does not import alert.
type AlertAdmin interface {
	ListRules(ctx context.Context) (any, error)
	CreateRule(ctx context.Context, body []byte) (any, error)
	UpdateRule(ctx context.Context, id string, body []byte) (any, error)
	DeleteRule(ctx context.Context, id string) error
	TestChannel(ctx context.Context, channel []byte) error
	ListDeliveries(ctx context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error)
	RetryDelivery(ctx context.Context, id int64) error
}

// mountAlerts adds the alert endpoints under /api/admin/alerts.
func (s *server) mountAlerts(mux *http.ServeMux) {
	a, admin := s.Alerts, s.admin
	rec := func(r *http.Request, action string) { s.auditAdmin(r, action, "", "") }
	{
		mux.Handle("GET /api/admin/alerts/rules", admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rules, err := a.ListRules(r.Context())
			reply(w, http.StatusOK, rules, err)
		})))
		mux.Handle("POST /api/admin/alerts/rules", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(w, r)
			if err == nil {
				var rule any
				rule, err = a.CreateRule(r.Context(), body)
				if err == nil {
					rec(r, "alert_rule.create")
				}
				reply(w, http.StatusCreated, rule, err)
				return
			}
			sm.WriteError(w, err)
		})))
		mux.Handle("PUT /api/admin/alerts/rules/{id}", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(w, r)
			if err == nil {
				var rule any
				rule, err = a.UpdateRule(r.Context(), r.PathValue("id"), body)
				if err == nil {
					rec(r, "alert_rule.update")
				}
				reply(w, http.StatusOK, rule, err)
				return
			}
			sm.WriteError(w, err)
		})))
		mux.Handle("DELETE /api/admin/alerts/rules/{id}", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := a.DeleteRule(r.Context(), r.PathValue("id")); err != nil {
				sm.WriteError(w, err)
				return
			}
			rec(r, "alert_rule.delete")
			w.WriteHeader(http.StatusNoContent)
		})))
		mux.Handle("POST /api/admin/alerts/test", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(w, r)
			if err == nil {
				var req struct {
					Channel json.RawMessage `json:"channel"`
				}
				if json.Unmarshal(body, &req) != nil || len(req.Channel) == 0 {
					err = sm.InvalidFields(map[string]string{"channel": "is required: {\"channel\": {\"type\": ..., ...}}"})
				} else {
					err = a.TestChannel(r.Context(), req.Channel)
				}
			}
			reply(w, http.StatusOK, map[string]any{"sent": err == nil}, err)
		})))
		mux.Handle("GET /api/admin/alerts/deliveries", admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			bad := map[string]string{}
			f := sm.DeliveryFilter{Status: q.Get("status"), Cursor: q.Get("cursor"), Limit: parseLimit(q.Get("limit"), bad)}
			switch f.Status {
			case "", sm.DeliveryPending, sm.DeliveryDelivered, sm.DeliveryDead, sm.DeliveryDropped:
			default:
				bad["status"] = "must be pending, delivered, dead or dropped"
			}
			if len(bad) > 0 {
				sm.WriteError(w, sm.InvalidFields(bad))
				return
			}
			ds, next, err := a.ListDeliveries(r.Context(), f)
			reply(w, http.StatusOK, page[*sm.Delivery]{Data: nonNil(ds), NextCursor: next}, err)
		})))
		mux.Handle("POST /api/admin/alerts/deliveries/{id}/retry", admin(sm.ScopeWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil || id <= 0 {
				sm.WriteError(w, sm.InvalidFields(map[string]string{"id": "must be a delivery id (a positive whole number)"}))
				return
			}
			err = a.RetryDelivery(r.Context(), id)
			if err == nil {
				rec(r, "alert_delivery.retry")
			}
			reply(w, http.StatusOK, map[string]any{"retried": id}, err)
		})))
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, decodeError(err)
	}
	return b, nil
}

// reply writes v with status, or err.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		sm.WriteError(w, err)
		return
	}
	if _, isPage := v.(interface{ isPage() }); !isPage {
		v = map[string]any{"data": v}
	}
	encode(w, status, v)
}

func (page[T]) isPage() {}
