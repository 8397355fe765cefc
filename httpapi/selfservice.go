package httpapi

import (
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// mySession is a session as its own user sees it.
type mySession struct {
	*sm.Session
	Current bool `json:"current"`
}

func (s *server) handleMySessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		f := sm.SessionFilter{UserID: p.UserID, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Sort: sm.SortLastSeen, Desc: true, Limit: 500}
		if r.URL.Query().Get("all") == "true" {
			f.Status = nil
		}
		page, err := s.Manager.ListSessions(r.Context(), f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]mySession, 0, len(page.Sessions))
		for _, ss := range page.Sessions {
			out = append(out, mySession{Session: ss, Current: ss.ID == p.SessionID})
		}
		encode(w, http.StatusOK, map[string]any{"data": out})
	})
}

func (s *server) handleEndMySession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		id := r.PathValue("id")
		target, err := s.Manager.Session(r.Context(), id)
		// Another user's session is "not found": never confirm it exists.
		if sm.IsNotFound(err) || (err == nil && target.UserID != p.UserID) {
			s.fail(w, r, sm.Errorf(sm.ENOTFOUND, "session not found"))
			return
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		reason := sm.EndManual
		if id == p.SessionID {
			reason = sm.EndLogout
		}
		if err := s.Manager.EndSession(r.Context(), id, reason, s.userActor(r, p)); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "sessionId": id})
	})
}

func (s *server) handleLogoutOthers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		n, err := s.Manager.EndUserSessions(r.Context(), p.UserID, sm.EndManual, s.userActor(r, p), p.SessionID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "ended": n})
	})
}

func (s *server) handleLogoutAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		n, err := s.Manager.EndUserSessions(r.Context(), p.UserID, sm.EndLogout, s.userActor(r, p), "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.clearRefreshCookie(w, r)
		encode(w, http.StatusOK, map[string]any{"ok": true, "ended": n})
	})
}
