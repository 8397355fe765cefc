package web

import (
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type sessionData struct {
	Session *sm.Session
	User    *sm.User
	Events  []*sm.Event
	Map     sessionMapView
}

func (s *server) handleSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, err := s.d.Core.Sessions.Session(ctx, r.PathValue("id"))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := sessionData{Session: sess}
	if u, err := s.d.Core.Users.User(ctx, sess.UserID); err == nil {
		d.User = u
	}
	events, _, err := s.d.Core.Audit.ListEvents(ctx, sm.EventFilter{SessionID: sess.ID, Limit: 100})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Events = events
	d.Map = sessionMap(sess)
	s.render(w, r, http.StatusOK, "session", "Session "+shorten(sess.ID, 10), "sessions", d)
}
