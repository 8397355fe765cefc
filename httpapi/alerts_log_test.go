package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// brokenRules is a rule admin whose store has gone away: what is tested
// is that the API logs the cause the client is not shown.
type brokenRules struct{ sm.AlertRules }

func (brokenRules) Delete(context.Context, string) error {
	return sm.WrapError(sm.EINTERNAL, "internal error", errors.New("rules store: disk I/O error"))
}

func (brokenRules) ListDeliveries(context.Context, sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	return nil, "", sm.WrapError(sm.EUNAVAILABLE, "the outbox is unavailable", errors.New("outbox: connection reset by peer"))
}

// TestAlertEndpointsLogCauses: a 500 or 503 of the alert endpoints is
// logged with its cause (the client sees the safe message only).
func TestAlertEndpointsLogCauses(t *testing.T) {
	m, st, sec := newTestManager(t, nil)
	tok, _, err := sm.NewAdminToken(context.Background(), st, sec, "alerts", sm.ScopeWrite, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	h := NewServer(Deps{Manager: m, Core: m.AdminCore(), Alerts: brokenRules{}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for _, c := range []struct {
		method, path string
		status       int
		cause        string
	}{
		{http.MethodDelete, "/api/admin/alerts/rules/rule_1", http.StatusInternalServerError, "disk I/O error"},
		{http.MethodGet, "/api/admin/alerts/deliveries", http.StatusServiceUnavailable, "connection reset by peer"},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.status || strings.Contains(rec.Body.String(), c.cause) {
			t.Fatalf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body.String())
		}
		if !strings.Contains(logs.String(), c.cause) {
			t.Errorf("%s %s: the cause is not logged: %s", c.method, c.path, logs.String())
		}
	}
}
