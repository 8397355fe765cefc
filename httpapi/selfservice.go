package httpapi

import (
	"time"

	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// mySession is a session as its own user sees it.
type mySession struct {
	*sm.Session
	Current bool `json:"current"`
	// The suspected mark is the admins' view: a thief holding the session
	// would learn from it that it was noticed. These outer fields, never
	// set, hide the session's own (encoding/json takes the shallower).
	Suspected   string    `json:"suspected,omitempty"`
	SuspectedAt time.Time `json:"suspectedAt,omitzero"`
}

func (s *server) handleMySessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		f := liveSessionsOf(p.UserID)
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
		if err := s.endOwnSession(r, p, id, false); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "sessionId": id})
	})
}

// endOwnSession ends one of the user's own sessions (logout when it is the
// current one). Another user's session is "not found": never confirm it
// exists; so is an ended one when liveOnly.
func (s *server) endOwnSession(r *http.Request, p sm.Principal, id string, liveOnly bool) error {
	target, err := s.Manager.Session(r.Context(), id)
	if sm.IsNotFound(err) || (err == nil && (target.UserID != p.UserID || (liveOnly && !target.Live(s.now())))) {
		return sm.Errorf(sm.ENOTFOUND, "Session not found")
	} else if err != nil {
		return err
	}
	reason := sm.EndManual
	if id == p.SessionID {
		reason = sm.EndLogout
	}
	return s.Manager.EndSession(r.Context(), id, reason, s.userActor(r, p))
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
