package sessionmanager

import (
	"errors"
	"testing"
)

// TestAuditVerifyOneAtATime: a verification reads the whole log, so a
// second one while the first runs is refused (ETOOMANY, retry after 10 s,
// a 429 in the API) for the API and the dashboard alike, before touching
// the store, and does not clear the running flag.
func TestAuditVerifyOneAtATime(t *testing.T) {
	m := &Manager{}
	m.verifying.Store(true)
	_, err := m.VerifyAudit(t.Context())
	var e *Error
	if !errors.As(err, &e) || e.Code != ETOOMANY || e.RetryAfterSeconds != 10 || HTTPStatus(e.Code) != 429 {
		t.Fatalf("second verification: %v", err)
	}
	if !m.verifying.Load() {
		t.Error("the refused request cleared the running flag")
	}
}
