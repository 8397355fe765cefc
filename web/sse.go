package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// hub fans bus messages out to the dashboard's event streams. It subscribes
// to the bus only while at least one stream is open, and refuses streams
// beyond max so a crowd of tabs cannot exhaust the server.
type hub struct {
	bus  sm.Bus
	max  int
	mu   sync.Mutex
	subs map[chan []byte]struct{}
	// unsub stops the hub's bus subscription. The bus calls publish on a
	// goroutine of its own, never under a lock of its own, so publish may
	// take mu while join subscribes under it.
	unsub func()
}

const (
	sseHeartbeat = 20 * time.Second
	// sseLifetime ends a stream after a while; the browser reconnects and
	// the admin's cookie is checked again.
	sseLifetime = 30 * time.Minute
)

func newHub(bus sm.Bus, max int) *hub {
	return &hub{bus: bus, max: max, subs: map[chan []byte]struct{}{}}
}

// liveEvent is what a stream sends per message: enough to know what to
// refresh, no personal data.
type liveEvent struct {
	Kind      string `json:"kind"`
	SessionID string `json:"sid,omitempty"`
	UserID    string `json:"uid,omitempty"`
}

func (h *hub) publish(m sm.Message) {
	switch m.Kind {
	case sm.MsgSessionChanged, sm.MsgSessionEnded, sm.MsgUserSessionsEnd, sm.MsgSettingsChanged, sm.MsgAdminSessionEnded:
	default:
		return
	}
	b, _ := json.Marshal(liveEvent{Kind: m.Kind, SessionID: m.SessionID, UserID: m.UserID})
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- b:
		default: // a slow stream misses this one; its page re-fetches anyway
		}
	}
}

// join adds a stream; ok=false when the hub is full.
func (h *hub) join() (chan []byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, false
	}
	c := make(chan []byte, 16)
	h.subs[c] = struct{}{}
	if h.unsub == nil {
		h.unsub = h.bus.Subscribe(h.publish)
	}
	return c, true
}

func (h *hub) leave(c chan []byte) {
	h.mu.Lock()
	delete(h.subs, c)
	var unsub func()
	if len(h.subs) == 0 {
		unsub, h.unsub = h.unsub, nil
	}
	h.mu.Unlock()
	if unsub != nil {
		unsub() // outside the lock: the bus may be delivering to publish
	}
}

// handleEvents is the server-sent event stream of live changes.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.d.Bus == nil {
		w.WriteHeader(http.StatusNoContent) // EventSource stops; pages poll
		return
	}
	c, ok := s.hub.join()
	if !ok {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many live streams", http.StatusServiceUnavailable)
		return
	}
	defer s.hub.leave(c)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the server's WriteTimeout must not cut the stream
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 5000\n: connected\n\n")); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	// A message saying this very sign-in ended closes the stream at once.
	ended, _ := json.Marshal(liveEvent{Kind: sm.MsgAdminSessionEnded, SessionID: sessionFrom(r.Context()).ID, UserID: adminFrom(r.Context()).ID})
	beat := time.NewTicker(sseHeartbeat)
	defer beat.Stop()
	end := time.NewTimer(sseLifetime)
	defer end.Stop()
	for {
		var out []byte
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			return
		case <-beat.C:
			// The sign-in may have ended where no message says so here
			// (idle, expiry, a change made by the CLI).
			if as, err := s.readSession(r); err == nil && as == nil {
				return
			}
			out = []byte(": ping\n\n")
		case b := <-c:
			if bytes.Equal(b, ended) {
				return // this stream's sign-in ended: no more live data
			}
			out = append(append([]byte("event: change\ndata: "), b...), '\n', '\n')
		}
		if _, err := w.Write(out); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
