package sessionmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/alert"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// withAlertRules gives the Manager the alert package's rules on its store,
// and the licence gate allows (nil: all).
func withAlertRules(t testing.TB, allows func(string) bool) func(*sm.Config) {
	return func(c *sm.Config) {
		st := c.Store.(storetest.Store)
		rules, err := alert.NewRules(context.Background(), alert.RulesConfig{Store: st, Sealer: c.Secrets,
			Targets: alert.TargetPolicy{AllowHTTPLoopback: true, AllowPrivateTargets: true}})
		if err != nil {
			t.Fatal(err)
		}
		c.AlertRules = alert.NewAdmin(rules, alert.NewWorker(alert.WorkerConfig{Store: st, Sealer: c.Secrets}))
		c.Allows = allows
	}
}

// alertActions are the alert admin actions audited so far, with their actors.
func alertActions(t *testing.T, e *env) []string { return adminActions(t, e, "alert_") }

// adminActions are the admin actions audited so far whose action starts
// with prefix, as "action by actor".
func adminActions(t *testing.T, e *env, prefix string) []string {
	t.Helper()
	evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventAdminAction}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		var data struct{ Action string }
		_ = json.Unmarshal(ev.Data, &data)
		if strings.HasPrefix(data.Action, prefix) {
			out = append(out, data.Action+" by "+ev.ActorID)
		}
	}
	return out
}

// TestAlertRulesAuditedOnceInTheCore: every change made through
// Manager.AlertRules is audited once, naming the actor of the context; the
// answers are typed and the webhook secret never comes back in clear.
func TestAlertRulesAuditedOnceInTheCore(t *testing.T) {
	e := newEnv(t, storeKinds[0], withAlertRules(t, nil))
	rules := e.m.AlertRules()
	ctx := sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: "token:ops", IP: "192.0.2.1"})
	const secret = "0123456789abcdef-secret"
	created, err := rules.Create(ctx, sm.AlertRule{Name: "Tor", Enabled: true, Triggers: []string{"tor"},
		Channels: []sm.AlertChannel{{Type: "webhook", URL: "https://127.0.0.1:9/hook", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Channels[0].Secret != "********" {
		t.Fatalf("created = %+v", created)
	}
	created.Name = "Tor exits"
	created.Enabled = false
	if _, err := rules.Update(ctx, created.ID, created); err != nil {
		t.Fatal(err)
	}
	if err := rules.Delete(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if err := rules.Delete(ctx, created.ID); !sm.IsNotFound(err) {
		t.Fatalf("delete twice = %v", err)
	}
	want := []string{"alert_rule.create by token:ops", "alert_rule.update by token:ops", "alert_rule.delete by token:ops"}
	if got := alertActions(t, e); !slices.Equal(got, want) {
		t.Fatalf("audited %v, want %v", got, want)
	}
	raw, _, _ := e.store.ListEvents(e.ctx, sm.EventFilter{Limit: 100})
	if b, _ := json.Marshal(raw); strings.Contains(string(b), secret) {
		t.Fatal("the webhook secret is in the audit log")
	}
}

// locked is the feature_locked reason of err, or "".
func locked(err error) bool {
	var se *sm.Error
	return errors.As(err, &se) && se.Reason == sm.ReasonFeatureLocked
}

// TestAlertRulesGatedInTheCore: the core refuses what the licence would
// ignore (feature_locked, nothing stored, nothing audited): an enabled rule
// without alerts, a new or changed condition without custom conditions;
// a condition already stored stays editable (a licence that lapsed), and a
// rule can always be switched off.
func TestAlertRulesGatedInTheCore(t *testing.T) {
	features := []string{sm.FeatureAlerts, sm.FeatureCondition}
	e := newEnv(t, storeKinds[0], withAlertRules(t, func(f string) bool { return slices.Contains(features, f) }))
	rules := e.m.AlertRules()
	ctx := sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: "admin-1"})
	email := []sm.AlertChannel{{Type: "email", To: []string{"sec@example.com"}}}
	js, err := rules.Create(ctx, sm.AlertRule{Name: "JS", Enabled: true, Condition: "event.score < 50", Channels: email})
	if err != nil {
		t.Fatal(err)
	}
	features = []string{sm.FeatureAlerts} // the licence lapses to an edition without conditions
	if _, err := rules.Create(ctx, sm.AlertRule{Name: "JS 2", Enabled: true, Condition: "event.score < 50", Channels: email}); !locked(err) {
		t.Fatalf("a new condition without custom conditions = %v", err)
	}
	js.Condition = "event.score < 40"
	if _, err := rules.Update(ctx, js.ID, js); !locked(err) {
		t.Fatalf("a changed condition without custom conditions = %v", err)
	}
	js.Condition, js.Name = "event.score < 50", "JS renamed"
	if _, err := rules.Update(ctx, js.ID, js); err != nil {
		t.Fatalf("the stored condition kept = %v", err)
	}
	features = nil
	if _, err := rules.Create(ctx, sm.AlertRule{Name: "Tor", Enabled: true, Triggers: []string{"tor"}, Channels: email}); !locked(err) {
		t.Fatalf("an enabled rule without alerts = %v", err)
	}
	js.Enabled = false
	if _, err := rules.Update(ctx, js.ID, js); err != nil {
		t.Fatalf("switching a rule off without alerts = %v", err)
	}
	if list, _ := rules.List(ctx); len(list) != 1 || list[0].Name != "JS renamed" || list[0].Condition != "event.score < 50" || list[0].Enabled {
		t.Fatalf("stored: %+v", list)
	}
	want := []string{"alert_rule.create by admin-1", "alert_rule.update by admin-1", "alert_rule.update by admin-1"}
	if got := alertActions(t, e); !slices.Equal(got, want) {
		t.Fatalf("audited %v, want %v", got, want)
	}
}

func TestDecodeAlertRule(t *testing.T) {
	r, err := sm.DecodeAlertRule([]byte(`{"name":"x","triggers":["tor"],"channels":[{"type":"email","to":["a@example.com"]}]}`), "body")
	if err != nil || !r.Enabled || r.Channels[0].To[0] != "a@example.com" {
		t.Fatalf("rule without enabled = %+v, %v: want enabled", r, err)
	}
	if r, err := sm.DecodeAlertRule([]byte(`{"name":"x","enabled":false}`), "body"); err != nil || r.Enabled {
		t.Fatalf("enabled false = %+v, %v", r, err)
	}
	for _, c := range []struct{ src, want string }{
		{"{\n  \"name\": \"x\",\n  oops\n}", "line 3, column 3: invalid character"},
		{`{"enabled":"yes"}`, "line 1, column 16: enabled: true or false expected, not a JSON string"},
		{`{"channels":[{"to":"a@example.com"}]}`, "channels.to: an array expected"},
		{`{"name":"x","sealedSecret":"AAAA"}`, `unknown field "sealedSecret"`},
		{`{"name":"x"} {}`, "unexpected data after the object"},
		{`null`, "must be a JSON object"},
		{` `, "a JSON object is required"},
	} {
		_, err := sm.DecodeAlertRule([]byte(c.src), "rule")
		var se *sm.Error
		if !errors.As(err, &se) || se.Code != sm.EINVALID || !strings.Contains(se.Fields["rule"], c.want) {
			t.Errorf("%q: %v, want rule: %q", c.src, err, c.want)
		}
	}
}
