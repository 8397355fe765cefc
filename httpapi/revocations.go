package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Revocation feed tuning.
const (
	revocationHeartbeat  = 15 * time.Second
	revocationMaxClients = 256
	revocationPage       = 500
)

// revocationRetries are the delays of store re-reads after a bus message:
// the bus may announce an end a moment before its audit event is written.
var revocationRetries = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 250 * time.Millisecond, time.Second, 5 * time.Second}

// Revocation is one ended session on the feed (the SSE data).
type Revocation struct {
	SessionID string       `json:"sid"`
	UserID    string       `json:"sub"`
	Reason    sm.EndReason `json:"reason"`
	At        time.Time    `json:"at"`
}

// handleRevocations is GET /api/auth/revocations (service token): a
// server-sent event stream of ended sessions. Each event's id is the audit
// event's Seq, so a client resumes with Last-Event-ID (or ?after=) and
// loses nothing: it replays from the store, then follows the bus, and every
// bus message is answered by re-reading the store after the cursor.
// Without a cursor it replays the last access-token lifetime: older
// sessions' access tokens have expired anyway.
func (s *server) handleRevocations() http.Handler {
	var clients atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cursor, fromCursor, err := revocationCursor(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		flusher, ok := w.(http.Flusher)
		if !ok {
			s.fail(w, r, sm.Errorf(sm.EINTERNAL, "streaming unsupported"))
			return
		}
		if clients.Add(1) > revocationMaxClients {
			clients.Add(-1)
			s.fail(w, r, &sm.Error{Code: sm.EUNAVAILABLE, Message: "too many revocation feed clients", RetryAfterSeconds: 5})
			return
		}
		defer clients.Add(-1)

		// Subscribe before the replay: a session ended during the replay
		// wakes a re-read, so nothing falls between the two.
		wake := make(chan struct{}, 1)
		unsub := s.Manager.Config().Bus.Subscribe(func(m sm.Message) {
			if m.Kind == sm.MsgSessionEnded || m.Kind == sm.MsgUserSessionsEnd {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		})
		defer unsub()

		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 2000\n\n")
		flusher.Flush()

		ctx := r.Context()
		feed := revocationFeed{s: s, w: w, after: cursor}
		if !fromCursor {
			feed.since = s.now().Add(-s.Manager.Config().AccessTokenTTL - time.Minute)
		}
		if _, err := feed.catchUp(ctx); err != nil {
			s.log.Warn("revocation feed replay failed", "err", err)
			return
		}
		flusher.Flush()
		heartbeat := time.NewTicker(revocationHeartbeat)
		defer heartbeat.Stop()
		var retry <-chan time.Time
		attempt := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				attempt = 0
			case <-retry:
				attempt++
			case <-heartbeat.C:
				// A revoked service token loses the feed within a heartbeat.
				if _, err := s.Core.Tokens.CheckAdminToken(ctx, sm.BearerToken(r), sm.ScopeService); sm.ErrorCode(err) == sm.EUNAUTHORIZED {
					return
				}
				if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
					return
				}
				flusher.Flush()
				attempt = len(revocationRetries) // a safety-net read, no retries
			}
			n, err := feed.catchUp(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("revocation feed read failed", "err", err)
			}
			flusher.Flush()
			retry = nil
			if n == 0 && attempt < len(revocationRetries) {
				retry = time.After(revocationRetries[attempt])
			}
		}
	})
}

// revocationCursor reads Last-Event-ID or ?after=; fromCursor is false when
// the client sent neither.
func revocationCursor(r *http.Request) (int64, bool, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, sm.InvalidFields(map[string]string{"after": "must be the id of a feed event (a non-negative integer)"})
	}
	return n, true, nil
}

// revocationFeed writes the ended sessions after a cursor.
type revocationFeed struct {
	s     *server
	w     http.ResponseWriter
	after int64
	// since bounds a feed started without a cursor (a lower bound on
	// time, harmless on later reads: new events are newer).
	since time.Time
}

// catchUp writes every ended session after the cursor, page by page, and
// moves the cursor; it returns how many it wrote.
func (f *revocationFeed) catchUp(ctx context.Context) (int, error) {
	written := 0
	for {
		evs, _, err := f.s.Core.Audit.ListEvents(ctx, sm.EventFilter{
			Types: []string{sm.EventSessionEnded, sm.EventRefreshReuse}, AfterSeq: f.after, From: f.since, Limit: revocationPage})
		if err != nil {
			return written, err
		}
		for _, e := range evs {
			var data struct {
				Reason sm.EndReason `json:"reason"`
			}
			_ = json.Unmarshal(e.Data, &data)
			if data.Reason == "" && e.Type == sm.EventRefreshReuse {
				data.Reason = sm.EndRefreshReuse
			}
			body, _ := json.Marshal(Revocation{SessionID: e.SessionID, UserID: e.UserID, Reason: data.Reason, At: e.At})
			if _, err := fmt.Fprintf(f.w, "id: %d\nevent: revoked\ndata: %s\n\n", e.Seq, body); err != nil {
				return written, err
			}
			f.after = e.Seq
			written++
		}
		if len(evs) < revocationPage {
			return written, nil
		}
	}
}
