package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestZeroCoreIsTheManagers: a server given only the Manager (Deps.Core
// left zero) answers the admin API through the Manager's admin core, not
// with a recovered panic: a token is checked (401 without one), a list
// answers 200.
func TestZeroCoreIsTheManagers(t *testing.T) {
	m, st, sec := newTestManager(t, nil)
	tok, _, err := sm.NewAdminToken(context.Background(), st, sec, "zero-core", sm.ScopeRead, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(Deps{Manager: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/api/admin/sessions", "", http.StatusUnauthorized},
		{"/api/admin/sessions", tok, http.StatusOK},
		{"/api/admin/users", tok, http.StatusOK},
		{"/api/admin/stats", tok, http.StatusOK},
		{"/api/admin/settings", tok, http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.want {
			t.Errorf("GET %s (token %t): %d %.200s, want %d", c.path, c.token != "", rec.Code, rec.Body.String(), c.want)
		}
	}
}
