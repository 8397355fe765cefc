package alert

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func mustCreate(t testing.TB, r *Rules, rule sm.AlertRule) sm.AlertRule {
	t.Helper()
	out, err := r.Create(context.Background(), rule)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var emailTo = []sm.AlertChannel{{Type: ChannelEmail, To: []string{"sec@example.com"}}}

func TestEngineDeliveries(t *testing.T) {
	ctx := context.Background()
	rules := newRules(t, openStore(t, ""), newSealer(t))
	vpn := mustCreate(t, rules, sm.AlertRule{Name: "VPN", Enabled: true, Triggers: []string{"vpn"},
		Channels: []sm.AlertChannel{emailTo[0], {Type: ChannelWebhook, URL: "https://127.0.0.1:1/h", Secret: "0123456789abcdef"}}})
	mustCreate(t, rules, sm.AlertRule{Name: "Tor", Enabled: true, Triggers: []string{"tor"}, Channels: emailTo})
	mustCreate(t, rules, sm.AlertRule{Name: "Disabled VPN", Enabled: false, Triggers: []string{"vpn"}, Channels: emailTo})
	notDE := mustCreate(t, rules, sm.AlertRule{Name: "VPN but not DE", Enabled: true, Triggers: []string{"vpn"}, Condition: `event.location.countryCode !== "DE"`, Channels: emailTo})
	cond := mustCreate(t, rules, sm.AlertRule{Name: "Condition only", Enabled: true, Condition: `event.user.email.endsWith("@example.com") && event.score < 60`,
		Channels: []sm.AlertChannel{emailTo[0], {Type: ChannelSlack, URL: "https://127.0.0.1:1/services/X"}}})
	loops := mustCreate(t, rules, sm.AlertRule{Name: "Loops", Enabled: true, Condition: `while(true){}`, Channels: emailTo})
	mustCreate(t, rules, sm.AlertRule{Name: "Tor with a condition", Enabled: true, Triggers: []string{"tor"}, Condition: `true`, Channels: emailTo})

	e := NewEngine(EngineConfig{Rules: rules})
	ds, err := e.Deliveries(ctx, loginInput())
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string][]*sm.Delivery{}
	keys := map[string]bool{}
	for _, d := range ds {
		byRule[d.RuleID] = append(byRule[d.RuleID], d)
		if len(d.IdempotencyKey) != 32 || keys[d.IdempotencyKey] {
			t.Fatalf("idempotency key %q not a fresh 128-bit hex id", d.IdempotencyKey)
		}
		keys[d.IdempotencyKey] = true
		if !d.NextAttemptAt.IsZero() || d.Status != sm.DeliveryPending {
			t.Fatalf("delivery %+v", d)
		}
	}
	// The login path never runs a condition: a rule with one whose triggers
	// match gets deliveries marked pending, one alert for all its channels.
	if len(ds) != 6 || len(byRule[vpn.ID]) != 2 || len(byRule[cond.ID]) != 2 || len(byRule[notDE.ID]) != 1 || len(byRule[loops.ID]) != 1 {
		t.Fatalf("deliveries by rule = %v, want VPN x2 and the three condition rules pending (tor, disabled must not fire)", byRule)
	}
	for _, d := range byRule[vpn.ID] {
		if pendingOf(d) != nil {
			t.Fatalf("a rule without a condition has a pending delivery: %s", d.Target)
		}
	}
	p0, p1 := pendingOf(byRule[cond.ID][0]), pendingOf(byRule[cond.ID][1])
	if p0 == nil || p1 == nil || p0.RuleID != cond.ID || p0.AlertID != p1.AlertID || !strings.Contains(string(p0.Event), `"jane@example.com"`) {
		t.Fatalf("pending conditions = %+v, %+v", p0, p1)
	}
	var chat Channel
	if err := json.Unmarshal(byRule[cond.ID][1].Target, &chat); err != nil || chat.URL != "" || len(chat.SealedURL) == 0 {
		t.Fatalf("pending chat target = %s", byRule[cond.ID][1].Target)
	}
	wh := byRule[vpn.ID][1]
	var target Channel
	if err := json.Unmarshal(wh.Target, &target); err != nil || wh.Channel != ChannelWebhook || len(target.SealedSecret) == 0 || target.Secret != "" {
		t.Fatalf("webhook target = %s", wh.Target)
	}
	var a Alert
	if err := json.Unmarshal(wh.Payload, &a); err != nil {
		t.Fatal(err)
	}
	if a.Kind != KindRule || a.Rule.ID != vpn.ID || a.Type != sm.EventLoginSucceeded || a.Severity != SeverityWarning ||
		a.User.Email != "jane@example.com" || a.Session.IP != "203.0.113.9" || a.Location.City != "Berlin" ||
		!a.Threat.VPN || a.Score != 55 || len(a.Reasons) != 2 || a.Previous == nil || a.Previous.Location.CountryCode != "FR" ||
		a.Title == "" || a.Summary == "" || !a.OccurredAt.Equal(testAt) || len(a.ID) != 32 {
		t.Fatalf("payload = %+v", a)
	}
	var c Alert
	_ = json.Unmarshal(byRule[cond.ID][0].Payload, &c)
	if len(c.Triggers) != 1 || c.Triggers[0] != "condition" {
		t.Fatalf("condition-only triggers = %v", c.Triggers)
	}

	// Events that are not logins raise nothing.
	in := loginInput()
	in.Event.Type = sm.EventSessionRefreshed
	if ds, _ := e.Deliveries(ctx, in); len(ds) != 0 {
		t.Fatalf("non-login event produced %d deliveries", len(ds))
	}
}

func TestEngineBlockedAndReuse(t *testing.T) {
	ctx := context.Background()
	rules := newRules(t, openStore(t, ""), newSealer(t))
	blocked := mustCreate(t, rules, sm.AlertRule{Name: "Blocked", Enabled: true, Triggers: []string{"login_blocked"}, Channels: emailTo})
	reuse := mustCreate(t, rules, sm.AlertRule{Name: "Reuse", Enabled: true, Triggers: []string{"refresh_reuse"}, Channels: emailTo})
	e := NewEngine(EngineConfig{Rules: rules, NewSignInEmail: true})

	in := loginInput()
	in.Event.Type, in.Session = sm.EventLoginBlocked, nil
	ds, err := e.Deliveries(ctx, in)
	if err != nil || len(ds) != 1 || ds[0].RuleID != blocked.ID {
		t.Fatalf("blocked login: %v, %v", ds, err)
	}
	var a Alert
	_ = json.Unmarshal(ds[0].Payload, &a)
	if a.Severity != SeverityCritical || a.Session.IP != "203.0.113.9" || a.Session.Device.Browser != "Firefox" {
		t.Fatalf("blocked payload = %+v", a)
	}

	in = loginInput()
	in.Event.Type = sm.EventRefreshReuse
	ds, _ = e.Deliveries(ctx, in)
	if len(ds) != 1 || ds[0].RuleID != reuse.ID {
		t.Fatalf("refresh reuse: %v", ds)
	}
}

func TestNewSignInEmail(t *testing.T) {
	ctx := context.Background()
	e := NewEngine(EngineConfig{NewSignInEmail: true})
	ds, err := e.Deliveries(ctx, loginInput())
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries = %v, %v", ds, err)
	}
	var target Channel
	var a Alert
	_ = json.Unmarshal(ds[0].Target, &target)
	_ = json.Unmarshal(ds[0].Payload, &a)
	if ds[0].RuleID != RuleUserNewSignIn || ds[0].Channel != ChannelEmail || target.To[0] != "jane@example.com" || a.Kind != KindUserNewSignIn {
		t.Fatalf("new sign-in delivery = %+v %s", ds[0], ds[0].Target)
	}
	in := loginInput()
	in.Event.Type = sm.EventLoginBlocked
	if ds, _ := e.Deliveries(ctx, in); len(ds) != 0 {
		t.Fatal("a blocked login sent the user a new sign-in email")
	}
	e.SetNewSignInEmail(false)
	if ds, _ := e.Deliveries(ctx, loginInput()); len(ds) != 0 {
		t.Fatal("new sign-in email still sent when off")
	}
}

// BenchmarkDeliveries: five enabled rules, one with a JavaScript condition,
// three of which fire on the input.
func BenchmarkDeliveries(b *testing.B) {
	rules := newRules(b, openStore(b, ""), newSealer(b))
	mustCreate(b, rules, sm.AlertRule{Name: "VPN", Enabled: true, Triggers: []string{"vpn", "proxy"}, Channels: emailTo})
	mustCreate(b, rules, sm.AlertRule{Name: "Tor", Enabled: true, Triggers: []string{"tor", "threat"}, Channels: emailTo})
	mustCreate(b, rules, sm.AlertRule{Name: "New country", Enabled: true, Triggers: []string{"new_country"}, Channels: []sm.AlertChannel{{Type: ChannelSlack, URL: "https://127.0.0.1/s"}}})
	mustCreate(b, rules, sm.AlertRule{Name: "Blocked", Enabled: true, Triggers: []string{"login_blocked", "refresh_reuse"}, Channels: emailTo})
	mustCreate(b, rules, sm.AlertRule{Name: "JS", Enabled: true, Condition: `event.score < 60 && event.reasons.some(r => r.code === "new_country")`, Channels: emailTo})
	// The condition is not run here (the worker runs it, in an evaluator
	// process): the benchmark measures the login path's share.
	e := NewEngine(EngineConfig{Rules: rules})
	in := loginInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ds, err := e.Deliveries(ctx, in)
		if err != nil || len(ds) != 3 {
			b.Fatalf("%d deliveries, %v", len(ds), err)
		}
	}
}

// TestConditionsLockedByLicence: without the custom-conditions feature a
// rule with a condition does not fire; plain trigger rules still do.
func TestConditionsLockedByLicence(t *testing.T) {
	ctx := context.Background()
	rules := newRules(t, openStore(t, ""), newSealer(t))
	plain := mustCreate(t, rules, sm.AlertRule{Name: "VPN", Enabled: true, Triggers: []string{"vpn"}, Channels: emailTo})
	cond := mustCreate(t, rules, sm.AlertRule{Name: "Condition only", Enabled: true, Condition: `event.score < 60`, Channels: emailTo})
	var allowed bool
	e := NewEngine(EngineConfig{Rules: rules, Conditions: func() bool { return allowed }})
	fired := func() map[string]bool {
		ds, err := e.Deliveries(ctx, loginInput())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, d := range ds {
			m[d.RuleID] = true
		}
		return m
	}
	if got := fired(); !got[plain.ID] || got[cond.ID] {
		t.Fatalf("locked: fired %v, want only the plain rule", got)
	}
	allowed = true
	if got := fired(); !got[plain.ID] || !got[cond.ID] {
		t.Fatalf("unlocked: fired %v, want both", got)
	}
}
