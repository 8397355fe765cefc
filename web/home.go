package web

import (
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type homeData struct {
	Stats  *sm.Stats
	Map    mapView
	Recent []*sm.Session
	// Capped is true when the map shows only the most recent sessions.
	Capped bool
}

// mapSessions is how many live sessions the home map places.
const mapSessions = 500

func (s *server) handleHome(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := s.d.Core.Stats.Stats(ctx)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page, err := s.d.Core.Sessions.ListSessions(ctx, sm.SessionFilter{Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Sort: sm.SortLastSeen, Desc: true, Limit: mapSessions})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := homeData{Stats: st, Map: worldMap(page.Sessions), Capped: page.NextCursor != ""}
	d.Recent = page.Sessions[:min(8, len(page.Sessions))]
	s.render(w, r, http.StatusOK, "home", "Overview", "home", d)
}
