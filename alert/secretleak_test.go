package alert

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// slackSecret is the secret part of the chat webhook URLs below: whoever
// has it can post to the channel.
const slackSecret = "XyZsecretPart0123456789ab"

func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	if strings.Contains(text, slackSecret) {
		t.Errorf("the webhook secret is in %s: %s", where, text)
	}
}

// TestChatWebhookURLNeverInErrors: a Slack webhook's URL is its secret.
// A failed send to it (here: a refused connection) keeps the secret out
// of the delivery's LastError (shown to read-scope tokens and on the
// dashboard), out of the log, and out of the answer of a test alert, for a
// channel given in clear and for a stored rule's sealed one.
func TestChatWebhookURLNeverInErrors(t *testing.T) {
	ctx := context.Background()
	hook := "http://" + testenv.FreeAddr(t) + "/services/T0001/B0001/" + slackSecret
	st := openStore(t, "")
	sealer := newSealer(t)
	rules := newRules(t, st, sealer)
	rule := mustCreate(t, rules, sm.AlertRule{Name: "VPN", Enabled: true, Triggers: []string{"vpn"},
		Channels: []sm.AlertChannel{{Type: ChannelSlack, URL: hook}}})
	logs := &testenv.SyncBuffer{} // the worker logs from its goroutines
	httpCfg := HTTPConfig{Targets: TargetPolicy{AllowHTTPLoopback: true}, Timeout: 2 * time.Second, Sealer: sealer}
	w := NewWorker(WorkerConfig{
		Store:      st,
		Dispatcher: NewDispatcher(map[string]Sender{ChannelSlack: NewSlackSender(httpCfg)}),
		Sealer:     sealer, Targets: httpCfg.Targets, MaxAttempts: 1,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	login(t, st, NewEngine(EngineConfig{Rules: rules}))
	if n, err := w.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("handled %d, %v", n, err)
	}
	ds, _, err := w.ListDeliveries(ctx, sm.DeliveryFilter{Limit: 10})
	if err != nil || len(ds) != 1 || ds[0].LastError == "" {
		t.Fatalf("deliveries: %+v, %v", ds, err)
	}
	assertNoSecret(t, "LastError", ds[0].LastError)
	if !strings.Contains(ds[0].LastError, "/"+maskedSecret) || !strings.Contains(ds[0].LastError, "connection refused") {
		t.Errorf("LastError does not say what failed where: %s", ds[0].LastError)
	}
	if !strings.Contains(logs.String(), "alert delivery failed") {
		t.Fatalf("the failure is not logged: %s", logs.String())
	}
	assertNoSecret(t, "the log", logs.String())

	err = w.Test(ctx, sm.AlertChannel{Type: ChannelSlack, URL: hook})
	if sm.ErrorCode(err) != sm.EUNAVAILABLE {
		t.Fatalf("test alert to a closed port: %v", err)
	}
	assertNoSecret(t, "the test alert's error", err.Error())
	assertNoSecret(t, "the test alert's message", sm.ErrorMessage(err))
	err = NewAdmin(rules, w).TestRule(ctx, rule.ID)
	if sm.ErrorCode(err) != sm.EUNAVAILABLE {
		t.Fatalf("rule test to a closed port: %v", err)
	}
	assertNoSecret(t, "the rule test's error", err.Error())
}

// TestChatWebhookURLNotEchoed: neither a URL that net/http refuses to
// send (the parse error repeats it) nor a receiver's error page that
// echoes the request path (as many frameworks' 404 pages do) puts the
// secret in the error.
func TestChatWebhookURLNotEchoed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Cannot POST "+r.URL.Path, http.StatusNotFound)
	}))
	defer srv.Close()
	p := newHTTPPoster(HTTPConfig{Targets: TargetPolicy{AllowHTTPLoopback: true}})
	hook := srv.URL + "/services/T0001/B0001/" + slackSecret
	err := p.post(context.Background(), hook, []byte(`{}`), nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("a 404 that echoes the path: %v", err)
	}
	assertNoSecret(t, "a 404's error", err.Error())
	// A trailing newline passes the target check (which trims) but not
	// net/http's parser, whose error quotes the whole URL.
	err = p.post(context.Background(), hook+"\n", []byte(`{}`), nil)
	if err == nil || !IsPermanent(err) {
		t.Fatalf("an unparsable URL: %v", err)
	}
	assertNoSecret(t, "a parse error", err.Error())
}
