package web

import (
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestDisabledRuleShowsWhy: a rule the server disabled (its condition
// overran its limits) shows the reason above it, outside the JSON editor,
// so saving the form does not send it back.
func TestDisabledRuleShowsWhy(t *testing.T) {
	alerts := newMemAlerts()
	const reason = "disabled automatically at 2026-12-04T18:00:00Z: its condition exceeded its time limit 3 times in a row"
	alerts.rules = append(alerts.rules, sm.AlertRule{ID: "rule-hostile", Name: "Hostile", DisabledReason: reason,
		DisabledAt: time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC), Condition: "while(true){}", Triggers: []string{}, Channels: []sm.AlertChannel{}})
	e := newEnv(t, withAlerts(alerts))
	c := e.client()
	c.signIn()
	_, body := c.get("/admin/settings")
	if !strings.Contains(body, "Disabled by the server: "+reason) {
		t.Fatal("the settings page does not say why the rule was disabled")
	}
	if strings.Contains(body, "&#34;disabledReason&#34;") || strings.Contains(body, `"disabledReason"`) {
		t.Fatal("the reason is inside the rule's JSON editor")
	}
}
