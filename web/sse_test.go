package web

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// openStream opens the live-update stream as the signed-in client.
func openStream(t *testing.T, c *client, ctx context.Context) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/admin/events", nil)
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestEventStream(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.MaxSSEClients = 1 })
	c := e.client()
	c.signIn()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := openStream(t, c, ctx)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The first bytes arrive before any event: the subscription is live.
	if l := <-lines; !strings.HasPrefix(l, "retry:") {
		t.Fatalf("first line %q", l)
	}
	// The bounded hub refuses a second stream.
	if r2 := openStream(t, c, ctx); r2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second stream over the limit: %d, want 503", r2.StatusCode)
	} else {
		r2.Body.Close()
	}
	res := e.login("zoe@example.com", "203.0.113.10", uaChromeMac)
	want := `"sid":"` + res.Session.ID + `"`
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream closed before the event")
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, want) && strings.Contains(l, `"kind":"session.changed"`) {
				if strings.Contains(l, "zoe@example.com") {
					t.Error("the event carries personal data")
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no event for the new login")
		}
	}
}

func TestEventStreamNeedsSignIn(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.client().get("/admin/events")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous stream: %d, want 401", resp.StatusCode)
	}
}

func TestHubUnsubscribesWhenEmpty(t *testing.T) {
	e := newEnv(t)
	h := newHub(e.bus, 2)
	a, ok1 := h.join()
	b, ok2 := h.join()
	if _, ok3 := h.join(); !ok1 || !ok2 || ok3 {
		t.Fatalf("join results %v %v %v, want true true false", ok1, ok2, ok3)
	}
	h.leave(a)
	h.leave(b)
	if h.clients() != 0 || h.unsub != nil {
		t.Fatal("the hub still listens with no stream open")
	}
}

// TestHubJoinsWhileMessagesFlow: streams join and leave while the bus
// delivers to the hub (publish takes the hub's lock, join subscribes
// under it): nothing deadlocks, and a stream that is open hears a message
// published after it joined.
func TestHubJoinsWhileMessagesFlow(t *testing.T) {
	bus := sm.NewLocalBus(nil)
	h := newHub(bus, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flowing := make(chan struct{})
	go func() {
		defer close(flowing)
		for ctx.Err() == nil {
			_ = bus.Publish(ctx, sm.Message{Kind: sm.MsgSessionChanged, SessionID: "busy"})
		}
	}()
	for range 200 {
		c, ok := h.join()
		if !ok {
			t.Fatal("the hub refused a stream under its limit")
		}
		h.leave(c)
	}
	c, _ := h.join()
	defer h.leave(c)
	cancel()
	<-flowing
	for {
		// The flood's queued messages may come first and fill the stream
		// (which then misses one): ask again until it hears.
		_ = bus.Publish(context.Background(), sm.Message{Kind: sm.MsgSessionEnded, SessionID: "last"})
		select {
		case b := <-c:
			if strings.Contains(string(b), `"last"`) {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the open stream never heard the message published after it joined")
		}
	}
}

// clients counts open streams.
func (h *hub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
