package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTPS server that records requests and answers with
// the status status(n) for the n-th request (0-based).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status func(n int) int
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		code := http.StatusOK
		if rc.status != nil {
			code = rc.status(n)
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// trusting returns an HTTPConfig whose client trusts the test server.
func trusting(srv *httptest.Server) HTTPConfig {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return HTTPConfig{Targets: TargetPolicy{AllowPrivateTargets: true}, TLSConfig: &tls.Config{RootCAs: pool}, Sealer: chatSealer}
}

// chatSealer seals the chat URLs of the HTTP tests' rules and opens them in
// their senders.
var chatSealer = func() Sealer { return newSealer(&testing.T{}) }()

// deliveriesFor makes the deliveries of one rule with channel ch for a Tor
// login by a user with a hostile username.
func deliveriesFor(t *testing.T, sealer Sealer, ch sm.AlertChannel) []*sm.Delivery {
	t.Helper()
	rules := newRules(t, openStore(t, ""), sealer)
	mustCreate(t, rules, sm.AlertRule{Name: "Tor <b>exits</b>", Enabled: true, Triggers: []string{"tor"}, Channels: []sm.AlertChannel{ch}})
	in := loginInput()
	in.Threat = sm.Threat{Tor: true}
	in.User.Username = "<script>alert(1)</script>"
	ds, err := NewEngine(EngineConfig{Rules: rules}).Deliveries(context.Background(), in)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v, %v", ds, err)
	}
	return ds
}

func TestSlackBlockKit(t *testing.T) {
	rc := newReceiver(t, nil)
	d := deliveriesFor(t, chatSealer, sm.AlertChannel{Type: ChannelSlack, URL: rc.srv.URL + "/services/T/B/X"})[0]
	if err := NewSlackSender(trusting(rc.srv)).Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(reqs[0].body, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Blocks) != 3 || msg.Blocks[0].Type != "header" || msg.Blocks[0].Text.Type != "plain_text" ||
		msg.Blocks[1].Type != "section" || msg.Blocks[1].Text.Type != "mrkdwn" || msg.Blocks[2].Type != "context" ||
		len(msg.Blocks[2].Elements) != 1 || msg.Text == "" {
		t.Fatalf("not the Block Kit shape: %s", reqs[0].body)
	}
	fields := msg.Blocks[1].Fields
	if len(fields) == 0 || len(fields) > 10 || fields[0].Type != "mrkdwn" || !strings.HasPrefix(fields[0].Text, "*User*\n") {
		t.Fatalf("fields = %+v", fields)
	}
	if !strings.Contains(fields[0].Text, "&lt;script&gt;") || strings.Contains(string(reqs[0].body), "<script>") {
		t.Fatalf("username not escaped for mrkdwn: %s", fields[0].Text)
	}
	if !strings.Contains(msg.Blocks[2].Elements[0].Text, "critical") {
		t.Fatalf("context = %q", msg.Blocks[2].Elements[0].Text)
	}
}

func TestDiscordEmbed(t *testing.T) {
	rc := newReceiver(t, func(int) int { return http.StatusNoContent })
	d := deliveriesFor(t, chatSealer, sm.AlertChannel{Type: ChannelDiscord, URL: rc.srv.URL + "/api/webhooks/1/x"})[0]
	if err := NewDiscordSender(trusting(rc.srv)).Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		AllowedMentions struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
		Embeds []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Color       int    `json:"color"`
			Timestamp   string `json:"timestamp"`
			Fields      []struct {
				Name   string `json:"name"`
				Value  string `json:"value"`
				Inline bool   `json:"inline"`
			} `json:"fields"`
		} `json:"embeds"`
	}
	body := rc.requests()[0].body
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Embeds) != 1 {
		t.Fatalf("embeds: %s", body)
	}
	e := msg.Embeds[0]
	ts, err := time.Parse(time.RFC3339, e.Timestamp)
	if e.Title == "" || e.Description == "" || e.Color != severityColor[SeverityCritical] || err != nil || !ts.Equal(testAt) || len(e.Fields) < 5 {
		t.Fatalf("embed = %+v", e)
	}
	if e.Fields[0].Name != "User" || !strings.Contains(e.Fields[0].Value, "jane@example.com") {
		t.Fatalf("fields = %+v", e.Fields)
	}
	if !strings.Contains(string(body), `"allowed_mentions":{"parse":[]}`) {
		t.Fatalf("mentions not disabled: %s", body)
	}
}

func TestWebhookSignedDelivery(t *testing.T) {
	const secret = "whsec-0123456789abcdef"
	rc := newReceiver(t, nil)
	sealer := newSealer(t)
	d := deliveriesFor(t, sealer, sm.AlertChannel{Type: ChannelWebhook, URL: rc.srv.URL + "/hook", Secret: secret})[0]
	if err := NewWebhookSender(trusting(rc.srv), sealer, nil).Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	h := r.header
	if err := VerifySignature([]byte(secret), h.Get(HeaderTimestamp), r.body, h.Get(HeaderSignature), time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if err := VerifySignature([]byte("not-the-secret-0000"), h.Get(HeaderTimestamp), r.body, h.Get(HeaderSignature), time.Now(), 5*time.Minute); err == nil {
		t.Fatal("signature verifies with the wrong secret")
	}
	if string(r.body) != string(d.Payload) || h.Get(HeaderIdempotencyKey) != d.IdempotencyKey ||
		h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != DefaultUserAgent {
		t.Fatalf("headers %v body %s", h, r.body)
	}
	var a Alert
	if err := json.Unmarshal(r.body, &a); err != nil || a.User.Username != "<script>alert(1)</script>" || a.Severity != SeverityCritical {
		t.Fatalf("payload %s", r.body)
	}
}

func TestHTTPStatusClassification(t *testing.T) {
	tests := []struct {
		status     int
		ok         bool
		permanent  bool
		retryAfter time.Duration
	}{
		{http.StatusOK, true, false, 0},
		{http.StatusAccepted, true, false, 0},
		{http.StatusGone, false, true, 0},
		{http.StatusBadRequest, false, false, 0},
		{http.StatusRequestTimeout, false, false, 0},
		{http.StatusTooManyRequests, false, false, 7 * time.Second},
		{http.StatusInternalServerError, false, false, 0},
		{http.StatusFound, false, false, 0}, // redirects are never followed
	}
	for _, tt := range tests {
		rc := newReceiver(t, func(int) int { return tt.status })
		d := deliveriesFor(t, chatSealer, sm.AlertChannel{Type: ChannelSlack, URL: rc.srv.URL})[0]
		err := NewSlackSender(trusting(rc.srv)).Send(context.Background(), d)
		if (err == nil) != tt.ok || IsPermanent(err) != tt.permanent || retryAfterOf(err) != tt.retryAfter {
			t.Errorf("status %d: err = %v (permanent %v, retry after %v)", tt.status, err, IsPermanent(err), retryAfterOf(err))
		}
	}
}

func TestSendRefusesInternalTarget(t *testing.T) {
	rc := newReceiver(t, nil)
	d := deliveriesFor(t, chatSealer, sm.AlertChannel{Type: ChannelSlack, URL: rc.srv.URL})[0]
	cfg := trusting(rc.srv)
	cfg.Targets = TargetPolicy{} // production policy at send time
	err := NewSlackSender(cfg).Send(context.Background(), d)
	if err == nil || !IsPermanent(err) {
		t.Fatalf("send to loopback under the production policy: %v", err)
	}
	if len(rc.requests()) != 0 {
		t.Fatal("the request reached the internal receiver")
	}
}
