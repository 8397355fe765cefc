package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestErrorsKeepTheDriverCause: a duplicate is ECONFLICT with a message
// for the client and PostgreSQL's error as its cause (for the logs), which
// the message never shows.
func TestErrorsKeepTheDriverCause(t *testing.T) {
	s := openStore(t)
	u := mkUser(t, s, "dup")
	again := *u
	again.ID = "u-other"
	err := s.CreateUser(context.Background(), &again)
	if code(err) != sm.ECONFLICT {
		t.Fatalf("duplicate email: want ECONFLICT, got %v", err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("the driver's error is not the cause: %v", err)
	}
	if msg := sm.ErrorMessage(err); strings.Contains(msg, pe.ConstraintName) || strings.Contains(msg, "23505") {
		t.Errorf("the client message shows the cause: %q", msg)
	}
}
