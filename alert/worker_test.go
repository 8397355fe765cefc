package alert

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
)

// dedupReceiver is a webhook receiver that counts accepted alerts by
// idempotency key; it fails the first `failFirst` requests with 503.
type dedupReceiver struct {
	t         *testing.T
	secret    []byte
	mu        sync.Mutex
	requests  int
	failFirst int
	accepted  map[string]int
	addr      string
	srv       *httptest.Server
}

func (rc *dedupReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := VerifySignature(rc.secret, r.Header.Get(HeaderTimestamp), body, r.Header.Get(HeaderSignature), time.Now(), 5*time.Minute); err != nil {
		rc.t.Errorf("bad signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.requests <= rc.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.accepted[r.Header.Get(HeaderIdempotencyKey)]++
	w.WriteHeader(http.StatusOK)
}

// up starts (or restarts) the receiver on its fixed address.
func (rc *dedupReceiver) up() {
	l, err := net.Listen("tcp", rc.addr)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.addr = l.Addr().String()
	rc.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: rc}}
	rc.srv.Start()
}

// down closes the listener: connections are refused.
func (rc *dedupReceiver) down() { rc.srv.Close() }

func (rc *dedupReceiver) counts() (distinct, total int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.accepted {
		total += n
	}
	return len(rc.accepted), total
}

// waitFor polls cond until it holds; the limit only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// login appends one login event with its alert deliveries, as the Manager does.
func login(t *testing.T, st *sqlite.Store, e *Engine) {
	t.Helper()
	in := loginInput()
	in.Event = &sm.Event{Type: sm.EventLoginSucceeded, At: time.Now().UTC(), ActorType: sm.ActorUser, UserID: "u1", SessionID: "s1", IP: "203.0.113.9"}
	ds, err := e.Deliveries(context.Background(), in)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v, %v", ds, err)
	}
	if err := st.AppendEvent(context.Background(), in.Event, ds); err != nil {
		t.Fatal(err)
	}
}

func newTestWorker(st sm.OutboxStore, sealer Sealer) *Worker {
	http := HTTPConfig{Targets: TargetPolicy{AllowHTTPLoopback: true}, Timeout: 2 * time.Second}
	return NewWorker(WorkerConfig{
		Store:       st,
		Dispatcher:  NewDispatcher(map[string]Sender{ChannelWebhook: NewWebhookSender(http, sealer, nil)}),
		Concurrency: 3, Batch: 3, Lease: 30 * time.Second, MaxAttempts: 10_000,
		BaseBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Poll: 20 * time.Millisecond,
		Sealer: sealer, Targets: TargetPolicy{AllowHTTPLoopback: true},
	})
}

// runWorker runs w until the returned stop is called; stop waits for Run.
func runWorker(w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func countStatus(t *testing.T, st sm.OutboxStore, status string) int {
	t.Helper()
	n := 0
	cursor := ""
	for {
		ds, next, err := st.ListDeliveries(context.Background(), sm.DeliveryFilter{Status: status, Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		n += len(ds)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// Every alert arrives exactly once through 503s, a receiver that is down,
// and a worker restart on the same store file.
func TestWorkerDeliversEveryAlertExactlyOnce(t *testing.T) {
	const secret = "whsec-fault-test-0123"
	path := filepath.Join(t.TempDir(), "sm.db")
	sealer := newSealer(t)
	rc := &dedupReceiver{t: t, secret: []byte(secret), failFirst: 7, accepted: map[string]int{}, addr: "127.0.0.1:0"}
	rc.up()
	defer func() { rc.srv.Close() }()

	st1, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rules := newRules(t, st1, sealer)
	mustCreate(t, rules, sm.AlertRule{Name: "VPN", Enabled: true, Triggers: []string{"vpn"},
		Channels: []sm.AlertChannel{{Type: ChannelWebhook, URL: "http://" + rc.addr + "/hook", Secret: secret}}})
	engine := NewEngine(EngineConfig{Rules: rules})

	// Phase 1: the receiver answers 503 seven times, then recovers.
	w1 := newTestWorker(st1, sealer)
	stop1 := runWorker(w1)
	for range 10 {
		login(t, st1, engine)
		w1.Kick()
	}
	waitFor(t, "10 alerts through the 503s", func() bool { d, _ := rc.counts(); return d == 10 })

	// Phase 2: the receiver goes down while 10 more alerts are written;
	// the worker fails them, then stops.
	rc.down()
	for range 10 {
		login(t, st1, engine)
	}
	w1.Kick()
	waitFor(t, "failed attempts to be recorded", func() bool {
		ds, _, _ := st1.ListDeliveries(context.Background(), sm.DeliveryFilter{Status: sm.DeliveryPending, Limit: 50})
		for _, d := range ds {
			if d.Attempts > 0 {
				return true
			}
		}
		return false
	})
	stop1()
	st1.Close()

	// Phase 3: a new worker on the same store file; the receiver returns.
	st2 := openStore(t, path)
	rc.up()
	w2 := newTestWorker(st2, sealer)
	stop2 := runWorker(w2)
	w2.Kick()
	waitFor(t, "all 20 alerts", func() bool { return countStatus(t, st2, sm.DeliveryDelivered) == 20 })
	stop2()

	distinct, total := rc.counts()
	if distinct != 20 || total != 20 {
		t.Fatalf("receiver got %d distinct alerts in %d deliveries, want 20 and 20", distinct, total)
	}
	// 7 answered 503 + 20 accepted: nothing was sent twice.
	if rc.requests != 27 {
		t.Fatalf("receiver saw %d requests, want 27", rc.requests)
	}
	if n := countStatus(t, st2, sm.DeliveryPending) + countStatus(t, st2, sm.DeliveryDead); n != 0 {
		t.Fatalf("%d deliveries left pending or dead", n)
	}
}

func TestWorkerBackoffDeadLetterAndRetry(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	sealer := newSealer(t)
	status := http.StatusInternalServerError
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	rules := newRules(t, st, sealer)
	mustCreate(t, rules, sm.AlertRule{Name: "VPN", Enabled: true, Triggers: []string{"vpn"},
		Channels: []sm.AlertChannel{{Type: ChannelWebhook, URL: srv.URL, Secret: "0123456789abcdef"}}})
	engine := NewEngine(EngineConfig{Rules: rules})
	// A manual clock so backoff and dead letters are exact.
	clock := sm.NewManualClock(time.Now().UTC().Truncate(time.Microsecond))
	w := newTestWorker(st, sealer)
	w.cfg.Clock, w.cfg.MaxAttempts, w.cfg.BaseBackoff, w.cfg.MaxBackoff = clock, 3, time.Second, time.Minute
	login(t, st, engine)
	clock.Advance(time.Second) // the event's time is real; make it due

	for attempt := 1; attempt <= 3; attempt++ {
		n, err := w.RunOnce(ctx)
		if err != nil || n != 1 {
			t.Fatalf("attempt %d: handled %d, %v", attempt, n, err)
		}
		ds, _, _ := st.ListDeliveries(ctx, sm.DeliveryFilter{Limit: 10})
		d := ds[0]
		if d.Attempts != attempt || d.LastError == "" {
			t.Fatalf("attempt %d: %+v", attempt, d)
		}
		if attempt < 3 {
			if d.Status != sm.DeliveryPending || d.NextAttemptAt.After(clock.Now().Add(time.Minute)) {
				t.Fatalf("attempt %d: %+v", attempt, d)
			}
			// Not due again before its backoff: at most one more claim now.
			clock.Advance(time.Minute + time.Millisecond)
		} else if d.Status != sm.DeliveryDead {
			t.Fatalf("after MaxAttempts the delivery is %s", d.Status)
		}
	}
	clock.Advance(time.Hour)
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("a dead delivery was claimed")
	}

	// The admin retries it after fixing the receiver.
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	ds, _, _ := w.ListDeliveries(ctx, sm.DeliveryFilter{Status: sm.DeliveryDead, Limit: 10})
	if len(ds) != 1 {
		t.Fatalf("%d dead deliveries", len(ds))
	}
	if err := w.Retry(ctx, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := w.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("after retry: %d, %v", n, err)
	}
	if countStatus(t, st, sm.DeliveryDelivered) != 1 {
		t.Fatal("retried delivery not delivered")
	}

	// 410 Gone dead-letters at once.
	mu.Lock()
	status = http.StatusGone
	mu.Unlock()
	login(t, st, engine)
	clock.Advance(time.Second)
	if n, _ := w.RunOnce(ctx); n != 1 {
		t.Fatal("410 delivery not claimed")
	}
	dead, _, _ := st.ListDeliveries(ctx, sm.DeliveryFilter{Status: sm.DeliveryDead, Limit: 10})
	if len(dead) != 1 || dead[0].Attempts != 1 {
		t.Fatalf("410: dead = %+v", dead)
	}
}

func TestWorkerTestChannel(t *testing.T) {
	const secret = "test-channel-secret-1"
	sealer := newSealer(t)
	rc := &dedupReceiver{t: t, secret: []byte(secret), accepted: map[string]int{}, addr: "127.0.0.1:0"}
	rc.up()
	defer rc.srv.Close()
	w := newTestWorker(openStore(t, ""), sealer)
	ch := sm.AlertChannel{Type: ChannelWebhook, URL: "http://" + rc.addr + "/hook", Secret: secret}
	if err := w.Test(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	if d, total := rc.counts(); d != 1 || total != 1 {
		t.Fatalf("test alert: %d/%d", d, total)
	}
	// A stored rule's channels are tested with their sealed secrets.
	st := openStore(t, "")
	rules := newRules(t, st, sealer)
	rule := mustCreate(t, rules, sm.AlertRule{Name: "x", Triggers: []string{"tor"}, Channels: []sm.AlertChannel{
		{Type: ChannelWebhook, URL: "http://" + rc.addr + "/hook", Secret: secret}, {Type: ChannelWebhook, URL: "http://" + rc.addr + "/hook2", Secret: secret}}})
	admin := NewAdmin(rules, w)
	if err := admin.TestRule(context.Background(), rule.ID); err != nil {
		t.Fatal(err)
	}
	if d, total := rc.counts(); d != 3 || total != 3 {
		t.Fatalf("stored channels test: %d/%d", d, total)
	}
	if err := admin.TestRule(context.Background(), "rule_missing"); !sm.IsNotFound(err) {
		t.Fatalf("missing rule = %v", err)
	}
	bad := sm.AlertChannel{Type: ChannelWebhook, URL: "http://203.0.113.1/hook", Secret: secret}
	if err := w.Test(context.Background(), bad); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("test of a refused URL = %v", err)
	}
	rc.down()
	if err := w.Test(context.Background(), ch); sm.ErrorCode(err) != sm.EUNAVAILABLE {
		t.Fatalf("test of a down receiver = %v", err)
	}
}

func TestBackoffBounds(t *testing.T) {
	for failures := 1; failures <= 12; failures++ {
		ceiling := min(5*time.Second<<(failures-1), time.Hour)
		for range 50 {
			d := backoff(failures, 5*time.Second, time.Hour, 0)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, ceiling %v", failures, d, ceiling)
			}
		}
	}
	if d := backoff(1, time.Second, time.Hour, 30*time.Second); d < 30*time.Second {
		t.Fatalf("Retry-After ignored: %v", d)
	}
	if d := backoff(1, time.Second, time.Minute, 2*time.Hour); d != time.Minute {
		t.Fatalf("Retry-After not capped: %v", d)
	}
}
