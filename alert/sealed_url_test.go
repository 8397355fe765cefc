package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
)

// chatStore is what the sealed-URL test needs of a store.
type chatStore interface {
	sm.SettingsStore
	sm.EventStore
	sm.OutboxStore
}

func sealedURLStores(t *testing.T) map[string]func(t *testing.T) chatStore {
	return map[string]func(t *testing.T) chatStore{
		"sqlite": func(t *testing.T) chatStore { return openStore(t, "") },
		"postgres": func(t *testing.T) chatStore {
			st, err := postgres.Open(context.Background(), testenv.PostgresSchema(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// TestChatURLsSealedAtRest: a Slack or Discord webhook URL is a bearer
// secret, so neither the raw settings row nor the outbox row holds it in
// clear, on either store; a document stored in clear by an older version
// is sealed at start and still sends.
func TestChatURLsSealedAtRest(t *testing.T) {
	const slackHook = "https://127.0.0.1/services/T000/B000/SLACKSECRETXXXX"
	const discordHook = "https://127.0.0.1/api/webhooks/123/DISCORDSECRETXX"
	for name, open := range sealedURLStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			sealer := newSealer(t)
			rawHas := func(secrets ...string) bool {
				t.Helper()
				raw, err := st.GetSetting(ctx, RulesKey)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range secrets {
					if bytes.Contains(raw, []byte(s)) || bytes.Contains(raw, []byte(strings.ReplaceAll(s, "/", `\/`))) {
						return true
					}
				}
				return false
			}
			rules := newRules(t, st, sealer)
			rule := mustCreate(t, rules, sm.AlertRule{Name: "chat", Enabled: true, Triggers: []string{"vpn"}, Channels: []sm.AlertChannel{
				{Type: ChannelSlack, URL: slackHook}, {Type: ChannelDiscord, URL: discordHook}}})
			if rawHas("SLACKSECRET", "DISCORDSECRET") {
				t.Fatal("the settings row holds a chat webhook URL in clear")
			}
			// An edit that sends the masked URL back keeps the sealed one.
			rule.Name = "renamed"
			if _, err := rules.Update(ctx, rule.ID, rule); err != nil {
				t.Fatal(err)
			}
			if rawHas("SLACKSECRET", "DISCORDSECRET") {
				t.Fatal("the settings row holds a chat webhook URL in clear after an update")
			}
			// A restart opens the sealed URLs; the outbox row holds them sealed
			// and the sender opens them.
			rules = newRules(t, st, sealer)
			e := NewEngine(EngineConfig{Rules: rules})
			in := loginInput()
			ds, err := e.Deliveries(ctx, in)
			if err != nil || len(ds) != 2 {
				t.Fatalf("deliveries: %v %v", ds, err)
			}
			if err := st.AppendEvent(ctx, in.Event, ds); err != nil {
				t.Fatal(err)
			}
			claimed, err := st.ClaimDeliveries(ctx, testAt.Add(1e9), 10, DefaultLease)
			if err != nil || len(claimed) != 2 {
				t.Fatalf("claimed %v %v", claimed, err)
			}
			for _, d := range claimed {
				if strings.Contains(string(d.Target), "SECRET") {
					t.Fatalf("outbox target holds the URL in clear: %s", d.Target)
				}
				url, _, err := chatTarget(d, sealer)
				if err != nil || (url != slackHook && url != discordHook) {
					t.Fatalf("sealed URL opens to %q, %v", url, err)
				}
			}

			// A document stored in clear (an older version) is sealed at start.
			legacy, _ := json.Marshal([]sm.AlertRule{{ID: "rule_old", Name: "old", Enabled: true, Triggers: []string{"tor"},
				Channels: []sm.AlertChannel{{Type: ChannelSlack, URL: slackHook}}}})
			if err := st.PutSetting(ctx, RulesKey, legacy); err != nil {
				t.Fatal(err)
			}
			rules = newRules(t, st, sealer)
			if rawHas("SLACKSECRET") {
				t.Fatal("a clear URL stored by an older version was not sealed at start")
			}
			for _, c := range rules.enabled() {
				if c.rule.Channels[0].URL != slackHook {
					t.Fatalf("the sealed legacy URL reads %q", c.rule.Channels[0].URL)
				}
			}
		})
	}
}
