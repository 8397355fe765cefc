package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func fieldsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	var e *sm.Error
	if !errors.As(err, &e) || e.Code != sm.EINVALID {
		t.Fatalf("error %v is not EINVALID", err)
	}
	return e.Fields
}

func TestRuleValidation(t *testing.T) {
	ctx := context.Background()
	rules := newRules(t, openStore(t, ""), newSealer(t))
	prod := TargetPolicy{} // production policy for URL checks
	tests := []struct {
		name   string
		rule   sm.AlertRule
		policy *TargetPolicy
		want   []string // fields named
	}{
		{"empty", sm.AlertRule{}, nil, []string{"name", "triggers", "channels"}},
		{"unknown trigger", sm.AlertRule{Name: "x", Triggers: []string{"vpn", "martians"}, Channels: []sm.AlertChannel{{Type: "email", To: []string{"a@b.example"}}}}, nil, []string{"triggers[1]"}},
		{"bad email", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "email", To: []string{"ok@example.com", "not an address"}}}}, nil, []string{"channels[0].to[1]"}},
		{"no recipients", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "email"}}}, nil, []string{"channels[0].to"}},
		{"unknown channel", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "pager"}}}, nil, []string{"channels[0].type"}},
		{"webhook without secret", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "webhook", URL: "https://203.0.113.5/hook"}}}, nil, []string{"channels[0].secret"}},
		{"short secret", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "webhook", URL: "https://203.0.113.5/hook", Secret: "short"}}}, nil, []string{"channels[0].secret"}},
		{"http in production", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "slack", URL: "http://203.0.113.5/hook"}}}, &prod, []string{"channels[0].url"}},
		{"private target in production", sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: "discord", URL: "https://10.0.0.8/hook"}, {Type: "slack", URL: "https://127.0.0.1/x"}}}, &prod, []string{"channels[0].url", "channels[1].url"}},
		{"syntax error", sm.AlertRule{Name: "x", Condition: "event.score <", Channels: []sm.AlertChannel{{Type: "email", To: []string{"a@b.example"}}}}, nil, []string{"condition"}},
		{"low score bound", sm.AlertRule{Name: "x", Triggers: []string{"low_score"}, LowScoreBelow: new(int), Channels: []sm.AlertChannel{{Type: "email", To: []string{"a@b.example"}}}}, nil, []string{"lowScoreBelow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules
			if tt.policy != nil {
				r = &Rules{cfg: rules.cfg}
				r.cfg.Targets = *tt.policy
				r.snap.Store(&ruleSet{})
			}
			_, err := r.Create(ctx, tt.rule)
			fields := fieldsOf(t, err)
			for _, f := range tt.want {
				if fields[f] == "" {
					t.Errorf("field %q not named; fields = %v", f, fields)
				}
			}
			if len(fields) != len(tt.want) {
				t.Errorf("fields = %v, want exactly %v", fields, tt.want)
			}
		})
	}
	list, _ := rules.List(ctx)
	if len(list) != 0 {
		t.Fatalf("invalid rules were stored: %v", list)
	}
}

func TestConditionSyntaxErrorAtSave(t *testing.T) {
	rules := newRules(t, openStore(t, ""), newSealer(t))
	_, err := rules.Create(context.Background(), sm.AlertRule{Name: "x", Condition: "if (event.score < 3) {\n  return true\n", Channels: []sm.AlertChannel{{Type: "email", To: []string{"a@b.example"}}}})
	msg := fieldsOf(t, err)["condition"]
	if !strings.HasPrefix(msg, "line ") || !strings.Contains(msg, " column ") {
		t.Fatalf("condition error %q has no line and column", msg)
	}
}

func TestRulesCRUDAndSecrets(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	sealer := newSealer(t)
	rules := newRules(t, st, sealer)
	const secret = "s3cret-s3cret-s3cret"
	created, err := rules.Create(ctx, sm.AlertRule{Name: " Tor ", Enabled: true, Triggers: []string{"TOR", "tor"},
		Channels: []sm.AlertChannel{{Type: "webhook", URL: "https://127.0.0.1:9/hook", Secret: secret}, {Type: "email", To: []string{"Sec Team <sec@example.com>"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Name != "Tor" || len(created.Triggers) != 1 || created.Triggers[0] != "tor" {
		t.Fatalf("created = %+v", created)
	}
	if created.Channels[0].Secret != maskedSecret {
		t.Fatalf("secret not masked: %+v", created.Channels[0])
	}
	if created.Channels[1].To[0] != "sec@example.com" {
		t.Fatalf("address not normalised: %v", created.Channels[1].To)
	}
	raw, err := st.GetSetting(ctx, RulesKey)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), secret) {
		t.Fatal("webhook secret stored in clear")
	}
	// The stored document keeps its shape: one channels array per rule, the
	// sealed secret inside each channel.
	if strings.Count(string(raw), `"channels":`) != 1 || !strings.Contains(string(raw), `"channels":[{"type":"webhook","url":"https://127.0.0.1:9/hook","sealedSecret":`) {
		t.Fatalf("stored document: %s", raw)
	}
	var stored []storedRule
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	opened, err := sealer.Open(stored[0].Channels[0].SealedSecret, secretAD(created.ID))
	if err != nil || string(opened) != secret {
		t.Fatalf("sealed secret does not open: %v", err)
	}
	out, _ := json.Marshal(mustList(t, rules))
	if strings.Contains(string(out), secret) || strings.Contains(string(out), "sealedSecret") {
		t.Fatalf("List leaks the secret: %s", out)
	}

	// Update with the masked secret keeps the stored one.
	upd := created
	upd.Name = "Tor exits"
	got, err := rules.Update(ctx, created.ID, upd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Tor exits" || got.CreatedAt != created.CreatedAt {
		t.Fatalf("updated = %+v", got)
	}
	raw, _ = st.GetSetting(ctx, RulesKey)
	_ = json.Unmarshal(raw, &stored)
	if opened, err := sealer.Open(stored[0].Channels[0].SealedSecret, secretAD(created.ID)); err != nil || string(opened) != secret {
		t.Fatal("update lost the webhook secret")
	}
	if _, err := rules.Update(ctx, "rule_missing", upd); sm.ErrorCode(err) != sm.ENOTFOUND {
		t.Fatalf("update missing = %v", err)
	}

	// Another instance sees the change after Reload.
	other := newRules(t, st, sealer)
	if g, err := other.Get(ctx, created.ID); err != nil || g.Name != "Tor exits" {
		t.Fatalf("other instance: %+v, %v", g, err)
	}
	if err := rules.Delete(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if err := other.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, created.ID); !sm.IsNotFound(err) {
		t.Fatalf("deleted rule still there after Reload: %v", err)
	}
	if err := rules.Delete(ctx, created.ID); !sm.IsNotFound(err) {
		t.Fatalf("delete twice = %v", err)
	}
}

func mustList(t *testing.T, r *Rules) []sm.AlertRule {
	t.Helper()
	l, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestChatWebhookURLsMasked: a Slack or Discord webhook URL is its secret:
// List and Get mask it, and an update that sends the mask back keeps it.
func TestChatWebhookURLsMasked(t *testing.T) {
	ctx := context.Background()
	rules := newRules(t, openStore(t, ""), newSealer(t))
	const hook = "https://127.0.0.1/services/T000/B000/XXXXSECRETXXXX"
	created := mustCreate(t, rules, sm.AlertRule{Name: "chat", Enabled: true, Triggers: []string{"tor"}, Channels: []sm.AlertChannel{{Type: ChannelSlack, URL: hook}}})
	if got := created.Channels[0].URL; got != "https://127.0.0.1/********" {
		t.Fatalf("created rule shows %q", got)
	}
	list, err := rules.List(ctx)
	if err != nil || strings.Contains(fmt.Sprint(list), "XXXXSECRET") {
		t.Fatalf("List leaks the webhook URL: %v %v", list, err)
	}
	created.Name = "renamed"
	if _, err := rules.Update(ctx, created.ID, created); err != nil {
		t.Fatalf("%v %v", err, err.(*sm.Error).Fields)
	}
	for _, c := range rules.enabled() {
		if c.rule.ID == created.ID && c.rule.Channels[0].URL != hook {
			t.Fatalf("the masked URL replaced the stored one: %q", c.rule.Channels[0].URL)
		}
	}
}
