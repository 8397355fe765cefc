package web

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// memAlerts is an in-memory AlertAdmin for the dashboard's tests: the UI is
// what is tested here; the alert package has its own tests. Like the alert
// package it refuses a condition that does not parse, naming line and column.
type memAlerts struct {
	mu         sync.Mutex
	rules      []json.RawMessage
	deliveries []*sm.Delivery
	retried    []int64
	tested     []string
}

func (m *memAlerts) ListRules(context.Context) ([]json.RawMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]json.RawMessage(nil), m.rules...), nil
}

func (m *memAlerts) SaveRule(_ context.Context, id string, rule json.RawMessage) (json.RawMessage, error) {
	var r map[string]any
	if err := json.Unmarshal(rule, &r); err != nil {
		return nil, sm.InvalidFields(map[string]string{"body": "not JSON"})
	}
	if c, _ := r["condition"].(string); strings.Contains(c, "===") && strings.Count(c, "(") != strings.Count(c, ")") {
		return nil, sm.InvalidFields(map[string]string{"condition": "line 1, column " + itoa(len(c)+1) + ": SyntaxError: Unexpected end of input"})
	}
	if name, _ := r["name"].(string); name == "" {
		return nil, sm.InvalidFields(map[string]string{"name": "is required"})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == "" {
		id = sm.NewID()
		r["id"] = id
		b, _ := json.Marshal(r)
		m.rules = append(m.rules, b)
		return b, nil
	}
	b, _ := json.Marshal(r)
	for i, old := range m.rules {
		var o struct{ ID string }
		_ = json.Unmarshal(old, &o)
		if o.ID == id {
			m.rules[i] = b
			return b, nil
		}
	}
	return nil, sm.Errorf(sm.ENOTFOUND, "no such rule")
}

func (m *memAlerts) DeleteRule(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, old := range m.rules {
		var o struct{ ID string }
		_ = json.Unmarshal(old, &o)
		if o.ID == id {
			m.rules = append(m.rules[:i], m.rules[i+1:]...)
			return nil
		}
	}
	return sm.Errorf(sm.ENOTFOUND, "no such rule")
}

func (m *memAlerts) SendTest(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tested = append(m.tested, id)
	return nil
}

func (m *memAlerts) ListDeliveries(_ context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*sm.Delivery
	for _, d := range m.deliveries {
		if f.Status == "" || d.Status == f.Status {
			out = append(out, d)
		}
	}
	return out, "", nil
}

func (m *memAlerts) RetryDelivery(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.deliveries {
		if d.ID == id && d.Status == sm.DeliveryDead {
			d.Status = sm.DeliveryPending
			m.retried = append(m.retried, id)
			return nil
		}
	}
	return sm.Errorf(sm.ECONFLICT, "only a dead delivery can be retried")
}

func itoa(n int) string { return strconv.Itoa(n) }

func newMemAlerts() *memAlerts {
	now := time.Now().UTC()
	m := &memAlerts{}
	m.rules = append(m.rules, json.RawMessage(`{"id":"rule-new-country","name":"New country or Tor","enabled":true,"triggers":["new_country","tor"],"channels":[{"type":"slack","url":"https://hooks.slack.com/services/T000/B000/XXXX"}]}`))
	m.rules = append(m.rules, json.RawMessage(`{"id":"rule-low-score","name":"Low score outside Germany","enabled":true,"triggers":["low_score"],"condition":"event.score < 50 && event.location.countryCode !== 'DE'","channels":[{"type":"webhook","url":"https://siem.example.com/hook","secret":"********"}]}`))
	m.deliveries = []*sm.Delivery{
		{ID: 1, EventSeq: 4, RuleID: "rule-new-country", Channel: "slack", Status: sm.DeliveryDelivered, Attempts: 1, CreatedAt: now.Add(-50 * time.Minute), DeliveredAt: now.Add(-50 * time.Minute)},
		{ID: 2, EventSeq: 9, RuleID: "rule-low-score", Channel: "webhook", Status: sm.DeliveryDead, Attempts: 8, LastError: "POST https://siem.example.com/hook: 503 Service Unavailable", CreatedAt: now.Add(-3 * time.Hour)},
		{ID: 3, EventSeq: 12, RuleID: "rule-new-country", Channel: "slack", Status: sm.DeliveryPending, Attempts: 2, LastError: "context deadline exceeded", CreatedAt: now.Add(-2 * time.Minute)},
	}
	return m
}

func withAlerts(a AlertAdmin) envOption { return func(d *Deps) { d.Alerts = a } }

func TestAlertRulesAndDeliveries(t *testing.T) {
	alerts := newMemAlerts()
	e := newEnv(t, withAlerts(alerts))
	c := e.client()
	c.signIn()
	_, body := c.get("/admin/settings")
	for _, want := range []string{"Low score outside Germany", "event.score &lt; 50", "Send test", "Add a rule"} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	// A condition that does not parse: the error with line/column is shown by the editor.
	resp, body := c.post("/admin/settings/rules/rule-low-score", urlValues("rule", `{"name":"Low score","enabled":true,"triggers":["low_score"]}`, "condition", "event.score === (1"))
	if resp.StatusCode != 400 || !strings.Contains(body, "line 1, column 19: SyntaxError") || !strings.Contains(body, "event.score === (1") {
		t.Fatalf("bad condition: %d, error not shown next to the editor", resp.StatusCode)
	}
	// Invalid JSON in the rule editor: named by line and column, nothing saved.
	resp, body = c.post("/admin/settings/rules", urlValues("rule", "{\n  \"name\": \"x\",\n  oops\n}", "condition", ""))
	if resp.StatusCode != 400 || !strings.Contains(body, "line 3, column 3") {
		t.Fatalf("bad JSON: %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/settings/rules", urlValues("rule", `{"name":"Blocked logins","enabled":true,"triggers":["login_blocked"],"channels":[]}`, "condition", "event.score < 30"))
	if resp.StatusCode != 303 {
		t.Fatalf("create rule: %d", resp.StatusCode)
	}
	rules, _ := alerts.ListRules(context.Background())
	if len(rules) != 3 || !strings.Contains(string(rules[2]), `"condition":"event.score \u003c 30"`) {
		t.Fatalf("rule not created with its condition: %s", rules)
	}
	if resp, _ := c.post("/admin/settings/rules/rule-new-country/test", nil); resp.StatusCode != 303 || len(alerts.tested) != 1 {
		t.Fatalf("send test: %d %v", resp.StatusCode, alerts.tested)
	}
	if resp, _ := c.post("/admin/settings/rules/rule-new-country/delete", nil); resp.StatusCode != 303 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	_, body = c.get("/admin/security")
	if !strings.Contains(body, "503 Service Unavailable") || !strings.Contains(body, "/admin/deliveries/2/retry") {
		t.Fatal("security page lacks the dead delivery with a retry")
	}
	if strings.Contains(body, "/admin/deliveries/1/retry") {
		t.Error("a delivered delivery offers a retry")
	}
	if resp, _ := c.post("/admin/deliveries/2/retry", nil); resp.StatusCode != 303 || len(alerts.retried) != 1 {
		t.Fatalf("retry: %d %v", resp.StatusCode, alerts.retried)
	}
	evs, _, _ := e.store.ListEvents(context.Background(), sm.EventFilter{Types: []string{sm.EventAdminAction}})
	var actions []string
	for _, ev := range evs {
		actions = append(actions, string(ev.Data))
	}
	joined := strings.Join(actions, " ")
	for _, a := range []string{"alert_rule.save", "alert_rule.test", "alert_rule.delete", "delivery.retry"} {
		if !strings.Contains(joined, a) {
			t.Errorf("admin action %s not recorded", a)
		}
	}
}
