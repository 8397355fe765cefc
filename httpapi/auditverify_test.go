package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAuditVerifyOneAtATime: a verification reads the whole log, so a
// second one while the first runs is refused with 429 and Retry-After
// (the handler answers before touching the Manager).
func TestAuditVerifyOneAtATime(t *testing.T) {
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.verifying.Store(true)
	rec := httptest.NewRecorder()
	s.handleAdminAuditVerify().ServeHTTP(rec, httptest.NewRequest("GET", "/api/admin/audit/verify", nil))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "10" {
		t.Fatalf("second verification: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if !s.verifying.Load() {
		t.Error("the refused request cleared the running flag")
	}
}
