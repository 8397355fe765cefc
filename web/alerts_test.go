package web

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// memAlerts is an in-memory sm.AlertRules for the dashboard's tests, the
// Manager's Config.AlertRules: the UI and the core's gate and audit are
// what is tested here; the alert package has its own tests. Like the
// alert package it refuses a condition that does not parse, naming line
// and column.
type memAlerts struct {
	mu         sync.Mutex
	rules      []sm.AlertRule
	deliveries []*sm.Delivery
	retried    []int64
	tested     []string
}

func (m *memAlerts) List(context.Context) ([]sm.AlertRule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sm.AlertRule(nil), m.rules...), nil
}

func (m *memAlerts) Get(_ context.Context, id string) (sm.AlertRule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.index(id); i >= 0 {
		return m.rules[i], nil
	}
	return sm.AlertRule{}, sm.Errorf(sm.ENOTFOUND, "no such rule")
}

// index is the position of rule id, or -1; m.mu is held.
func (m *memAlerts) index(id string) int {
	return slices.IndexFunc(m.rules, func(r sm.AlertRule) bool { return r.ID == id })
}

func (m *memAlerts) check(r sm.AlertRule) error {
	if c := r.Condition; strings.Contains(c, "===") && strings.Count(c, "(") != strings.Count(c, ")") {
		return sm.InvalidFields(map[string]string{"condition": "line 1, column " + itoa(len(c)+1) + ": SyntaxError: Unexpected end of input"})
	}
	if r.Name == "" {
		return sm.InvalidFields(map[string]string{"name": "is required"})
	}
	return nil
}

func (m *memAlerts) Create(_ context.Context, r sm.AlertRule) (sm.AlertRule, error) {
	if err := m.check(r); err != nil {
		return sm.AlertRule{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ID = sm.NewID()
	m.rules = append(m.rules, r)
	return r, nil
}

func (m *memAlerts) Update(_ context.Context, id string, r sm.AlertRule) (sm.AlertRule, error) {
	if err := m.check(r); err != nil {
		return sm.AlertRule{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.index(id)
	if i < 0 {
		return sm.AlertRule{}, sm.Errorf(sm.ENOTFOUND, "no such rule")
	}
	r.ID = id
	m.rules[i] = r
	return r, nil
}

func (m *memAlerts) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.index(id)
	if i < 0 {
		return sm.Errorf(sm.ENOTFOUND, "no such rule")
	}
	m.rules = slices.Delete(m.rules, i, i+1)
	return nil
}

func (m *memAlerts) TestChannel(context.Context, sm.AlertChannel) error { return nil }

func (m *memAlerts) TestRule(_ context.Context, id string) error {
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
	m.rules = append(m.rules, sm.AlertRule{ID: "rule-new-country", Name: "New country or Tor", Enabled: true, Triggers: []string{"new_country", "tor"},
		Channels: []sm.AlertChannel{{Type: "slack", URL: "https://hooks.slack.com/services/T000/B000/XXXX"}}})
	m.rules = append(m.rules, sm.AlertRule{ID: "rule-low-score", Name: "Low score outside Germany", Enabled: true, Triggers: []string{"low_score"},
		Condition: "event.score < 50 && event.location.countryCode !== 'DE'", Channels: []sm.AlertChannel{{Type: "webhook", URL: "https://siem.example.com/hook", Secret: "********"}}})
	m.deliveries = []*sm.Delivery{
		{ID: 1, EventSeq: 4, RuleID: "rule-new-country", Channel: "slack", Status: sm.DeliveryDelivered, Attempts: 1, CreatedAt: now.Add(-50 * time.Minute), DeliveredAt: now.Add(-50 * time.Minute)},
		{ID: 2, EventSeq: 9, RuleID: "rule-low-score", Channel: "webhook", Status: sm.DeliveryDead, Attempts: 8, LastError: "POST https://siem.example.com/hook: 503 Service Unavailable", CreatedAt: now.Add(-3 * time.Hour)},
		{ID: 3, EventSeq: 12, RuleID: "rule-new-country", Channel: "slack", Status: sm.DeliveryPending, Attempts: 2, LastError: "context deadline exceeded", CreatedAt: now.Add(-2 * time.Minute)},
	}
	return m
}

// withAlerts gives the Manager rules a (Config.AlertRules) and the
// dashboard the Manager's rule admin (see newEnvConfig).
func withAlerts(a sm.AlertRules) envOption { return func(d *Deps) { d.Alerts = a } }

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
	rules, _ := alerts.List(context.Background())
	if len(rules) != 3 || rules[2].Condition != "event.score < 30" {
		t.Fatalf("rule not created with its condition: %+v", rules)
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
	// Deliveries name their rule and link the event that caused them; the
	// full last error is there (the summary shortens it).
	if !strings.Contains(body, ">Low score outside Germany</a>") || !strings.Contains(body, `href="/admin/audit?seq=9"`) ||
		!strings.Contains(body, `<div class="delivery-error">POST https://siem.example.com/hook: 503 Service Unavailable</div>`) {
		t.Error("security page: deliveries lack the rule name, the event link or the full error")
	}
	if resp, _ := c.post("/admin/deliveries/2/retry", nil); resp.StatusCode != 303 || len(alerts.retried) != 1 {
		t.Fatalf("retry: %d %v", resp.StatusCode, alerts.retried)
	}
	// The core audits each action once, naming the signed-in admin.
	evs, _, _ := e.store.ListEvents(context.Background(), sm.EventFilter{Types: []string{sm.EventAdminAction}})
	count := map[string]int{}
	for _, ev := range evs {
		var data struct{ Action string }
		_ = json.Unmarshal(ev.Data, &data)
		count[data.Action]++
		if ev.ActorType != sm.ActorAdmin || ev.ActorID != e.admin.ID {
			t.Errorf("%s recorded as %s %q, not the signed-in admin", data.Action, ev.ActorType, ev.ActorID)
		}
	}
	for _, a := range []string{"alert_rule.create", "alert_rule.test", "alert_rule.delete", "alert_delivery.retry"} {
		if count[a] != 1 {
			t.Errorf("admin action %s recorded %d times, want once (all: %v)", a, count[a], count)
		}
	}
}

// TestRuleGatedByTheCore: the licence gate of alert rules is the core's, so
// the dashboard cannot save what the edition would ignore: on Premium
// (alerts and conditions need Advanced) an enabled rule, or a disabled one
// with a JavaScript condition, is refused (403, named) and nothing is
// stored or audited; a disabled rule is saved.
func TestRuleGatedByTheCore(t *testing.T) {
	alerts := newMemAlerts()
	e, _ := newDataEnv(t, license.EditionPremium, withAlerts(alerts))
	c := e.client()
	c.signIn()
	enabled := `{"name":"Blocked logins","triggers":["login_blocked"],"channels":[]}`
	disabled := `{"name":"Blocked logins","enabled":false,"triggers":["login_blocked"],"channels":[]}`
	for _, post := range []struct{ rule, condition string }{{enabled, ""}, {disabled, "event.score < 30"}} {
		resp, body := c.post("/admin/settings/rules", urlValues("rule", post.rule, "condition", post.condition))
		if resp.StatusCode != 403 || !strings.Contains(body, "Advanced edition unlocks") {
			t.Fatalf("%s %q on Premium: %d", post.rule, post.condition, resp.StatusCode)
		}
	}
	if len(alerts.rules) != 2 {
		t.Fatalf("a refused rule was stored: %+v", alerts.rules)
	}
	if resp, _ := c.post("/admin/settings/rules", urlValues("rule", disabled, "condition", "")); resp.StatusCode != 303 || len(alerts.rules) != 3 {
		t.Fatalf("a disabled rule on Premium: %d", resp.StatusCode)
	}
	evs, _, _ := e.store.ListEvents(context.Background(), sm.EventFilter{Types: []string{sm.EventAdminAction}})
	var actions []string
	for _, ev := range evs {
		var data struct{ Action string }
		if _ = json.Unmarshal(ev.Data, &data); strings.HasPrefix(data.Action, "alert_") {
			actions = append(actions, data.Action)
		}
	}
	if !slices.Equal(actions, []string{"alert_rule.create"}) {
		t.Fatalf("audited %v, want the one create", actions)
	}
}
