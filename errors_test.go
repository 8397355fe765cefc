package sessionmanager_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestErrorKeepsItsCause: the cause of an *Error is reachable by errors.Is
// and written in its Error() text (for logs), never in its Message.
func TestErrorKeepsItsCause(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	err := error(sm.WrapError(sm.EUNAVAILABLE, "database unavailable; try again", cause))
	if !errors.Is(err, cause) {
		t.Fatal("errors.Is does not reach the cause")
	}
	if !strings.Contains(err.Error(), cause.Error()) {
		t.Errorf("Error() %q lacks the cause", err.Error())
	}
	if msg := sm.ErrorMessage(err); strings.Contains(msg, cause.Error()) {
		t.Errorf("the client-safe message %q shows the cause", msg)
	}
}

// TestTerminatedHeaderByReason: the reason header is set for a
// SessionTerminated error, whatever its reason (one this version does not
// know, as the revocation feed of a newer server may send, or none), and
// for nothing else, whatever its message or reason.
func TestTerminatedHeaderByReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{sm.SessionTerminated(sm.EndLogout), "logout"},
		{sm.SessionTerminated("totp_changed"), "totp_changed"},
		{sm.SessionTerminated("a_reason_from_a_newer_server"), "a_reason_from_a_newer_server"},
		{sm.SessionTerminated(""), "unknown"},
		{&sm.Error{Code: sm.EUNAUTHORIZED, Message: "Session terminated", Reason: string(sm.EndLogout)}, ""},
		{&sm.Error{Code: sm.EUNAUTHORIZED, Message: "Session terminated", Reason: "invalid_token"}, ""},
		{&sm.Error{Code: sm.EFORBIDDEN, Message: "Session terminated", Reason: string(sm.EndBlocked)}, ""},
	} {
		rec := httptest.NewRecorder()
		sm.WriteError(rec, tc.err)
		if got := rec.Header().Get(sm.HeaderTerminatedReason); got != tc.want {
			t.Errorf("%v: header %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestMiddlewareLogsItsFailures: when the session state cannot be read,
// the library middleware answers 503 with the safe message only, and logs
// the store's error.
func TestMiddlewareLogsItsFailures(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, storeKinds[0], func(c *sm.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	res := e.register("mwlog")
	e.m.DropCaches()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran without a session state")
	}))
	req := httptest.NewRequest(http.MethodGet, "/private", nil)
	req.Header.Set("Authorization", "Bearer "+res.AccessToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	const cause = "database is closed"
	if strings.Contains(rec.Body.String(), cause) {
		t.Errorf("the answer shows the cause: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "authenticate request") || !strings.Contains(logs.String(), cause) {
		t.Errorf("the 503's cause is not logged:\n%s", logs.String())
	}
}

// TestInvalidFieldsMessage: a bad-input answer says what is wrong in its
// message, as Strapi's validation does: the one field and why, or how many.
func TestInvalidFieldsMessage(t *testing.T) {
	for _, tc := range []struct {
		fields map[string]string
		want   string
	}{
		{map[string]string{"identifier": "is required"}, "identifier is required"},
		{map[string]string{"identifier": "is required", "password": "is required"}, "2 errors occurred"},
		{nil, "invalid input"},
	} {
		e := sm.InvalidFields(tc.fields)
		if e.Message != tc.want || e.Code != sm.EINVALID {
			t.Errorf("%v: %q %s, want %q", tc.fields, e.Message, e.Code, tc.want)
		}
	}
}
