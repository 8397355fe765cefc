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
		u, err := s.Core.Users.User(ctx, r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		userJSON, err := json.Marshal(u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sm.Attachment(w, "application/json; charset=utf-8", "user-"+safeFilePart(u.ID)+".json")
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
		sf := sm.SessionFilter{UserID: u.ID, Limit: sm.ExportPage}
		for {
			p, err := s.Core.Sessions.ListSessions(ctx, sf)
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
		ef := sm.EventFilter{UserID: u.ID, Limit: sm.ExportPage}
		for {
			events, cursor, err := s.Core.Audit.ListEvents(ctx, ef)
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
		s.Core.Audit.RecordExport(ctx, sm.Export{What: sm.ExportUser, UserID: u.ID})
	})
}

// handleEraseUser answers a GDPR erasure request: the core ends the user's
// sessions on every instance, erases their personal data and records it
// (sm.UserAdmin.EraseUser).
func (s *server) handleEraseUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		ended, err := s.Core.Users.EraseUser(r.Context(), id)
		if err != nil {
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
