package web

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// unavailableRules is a rule admin whose store is out of reach: what is
// tested is that the dashboard logs the cause it does not show.
type unavailableRules struct{ *memAlerts }

func (unavailableRules) Delete(context.Context, string) error {
	return sm.WrapError(sm.EUNAVAILABLE, "alert rules are unavailable", errors.New("rules store: connection reset by peer"))
}

// TestUnavailableLoggedWithCause: a 503 page says "unavailable"; the log
// has the cause, at Warn.
func TestUnavailableLoggedWithCause(t *testing.T) {
	logs := &testenv.SyncBuffer{}
	e := newEnv(t, withAlerts(unavailableRules{newMemAlerts()}), func(d *Deps) { d.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	c := e.client()
	c.signIn()
	resp, body := c.post("/admin/settings/rules/rule-new-country/delete", nil)
	if resp.StatusCode != 503 || strings.Contains(body, "connection reset") {
		t.Fatalf("delete with the rules unavailable: %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "rules store: connection reset by peer") {
		t.Fatalf("the cause is not logged: %s", logs.String())
	}
}
