package httpapi

import (
	"bufio"
	"encoding/json"
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// handleUserExport answers a GDPR access request: the user, all their
// sessions and all their audit events, as one JSON document
// {"data":{"user":{...},"sessions":[...],"events":[...]}}, streamed page by
// page.
func (s *server) handleUserExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := s.Store.UserByID(ctx, r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		userJSON, err := json.Marshal(u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		attachment(w, "application/json; charset=utf-8", "user-"+safeFilePart(u.ID)+".json")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 32<<10)
		rc := http.NewResponseController(w)
		abort := func(err error) {
			s.log.Error("user export stopped after the response began", "user", u.ID, "err", err)
			panic(http.ErrAbortHandler)
		}
		write := func(parts ...[]byte) {
			for _, p := range parts {
				if _, err := bw.Write(p); err != nil {
					abort(err)
				}
			}
		}
		flush := func() {
			if err := bw.Flush(); err != nil {
				abort(err)
			}
			_ = rc.Flush()
		}
		items := 0
		item := func(v any) {
			b, err := json.Marshal(v)
			if err != nil {
				abort(err)
			}
			if items > 0 {
				write([]byte(",\n"))
			}
			items++
			write(b)
		}
		write([]byte(`{"data":{"user":`), userJSON, []byte(`,"sessions":[`))
		sf := sm.SessionFilter{UserID: u.ID, Limit: exportPage}
		for {
			p, err := s.Store.ListSessions(ctx, sf)
			if err != nil {
				abort(err)
			}
			for _, x := range p.Sessions {
				item(x)
			}
			flush()
			if sf.Cursor = p.NextCursor; sf.Cursor == "" {
				break
			}
		}
		items = 0
		write([]byte(`],"events":[`))
		ef := sm.EventFilter{UserID: u.ID, Limit: exportPage}
		for {
			events, cursor, err := s.Store.ListEvents(ctx, ef)
			if err != nil {
				abort(err)
			}
			for _, e := range events {
				item(e)
			}
			flush()
			if ef.Cursor = cursor; cursor == "" {
				break
			}
		}
		write([]byte("]}}\n"))
		flush()
		s.auditAdmin(r, "user.export", u.ID, "")
	})
}

// handleEraseUser answers a GDPR erasure request: the user's sessions end
// (reason erased) on every instance, then the store clears the user's
// personal data (email, username, IPs, user agents, locations, the personal
// fields of the user's events and of the events without a user id that
// name its email or username, magic links; the audit chain still verifies
// through the kept digests), and a user.erased event without personal data
// records it.
func (s *server) handleEraseUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		if _, err := s.Store.UserByID(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
		actor := s.adminActor(r)
		ended, err := s.Manager.EndUserSessions(ctx, id, sm.EndErased, actor, "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.Store.EraseUser(ctx, id, s.now()); err != nil {
			s.fail(w, r, err)
			return
		}
		data, _ := json.Marshal(map[string]any{"sessionsEnded": ended})
		e := &sm.Event{Type: sm.EventUserErased, ActorType: actor.Type, ActorID: actor.ID, IP: actor.IP, UserID: id, Data: data}
		if err := s.Manager.Record(ctx, e); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": map[string]any{"userId": id, "erased": true, "sessionsEnded": ended}})
	})
}

// safeFilePart keeps a value usable inside a Content-Disposition filename.
func safeFilePart(v string) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v) && len(b) < 64; i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		}
	}
	return string(b)
}
