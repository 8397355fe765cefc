package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDisabledRuleShowsWhy: a rule the server disabled (its condition
// overran its limits) shows the reason above it, outside the JSON editor,
// so saving the form does not send it back.
func TestDisabledRuleShowsWhy(t *testing.T) {
	alerts := newMemAlerts()
	const reason = "disabled automatically at 2026-12-04T18:00:00Z: its condition exceeded its time limit 3 times in a row"
	alerts.rules = append(alerts.rules, json.RawMessage(`{"id":"rule-hostile","name":"Hostile","enabled":false,"disabledReason":"`+reason+`","disabledAt":"2026-12-04T18:00:00Z","condition":"while(true){}","triggers":[],"channels":[]}`))
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
