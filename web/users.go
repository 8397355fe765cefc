package web

import (
	"net/http"
	"net/url"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type usersData struct {
	Search  string
	Blocked string
	Users   []*sm.User
	Next    string
	Error   string
}

func (s *server) handleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := usersData{Search: strings.TrimSpace(q.Get("q")), Blocked: q.Get("blocked")}
	f := sm.UserFilter{Search: d.Search, Limit: 50, Cursor: q.Get("cursor")}
	switch d.Blocked {
	case "":
	case "yes", "no":
		b := d.Blocked == "yes"
		f.Blocked = &b
	default:
		d.Error = "unknown filter"
	}
	if len(d.Search) > 200 || len(f.Cursor) > 512 {
		d.Error = "search too long"
	}
	if d.Error != "" {
		s.render(w, r, http.StatusBadRequest, "users", "Users", "users", d)
		return
	}
	users, next, err := s.d.Store.ListUsers(r.Context(), f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Users = users
	if next != "" {
		v := url.Values{"cursor": {next}}
		if d.Search != "" {
			v.Set("q", d.Search)
		}
		if d.Blocked != "" {
			v.Set("blocked", d.Blocked)
		}
		d.Next = "/admin/users?" + v.Encode()
	}
	s.render(w, r, http.StatusOK, "users", "Users", "users", d)
}

type userData struct {
	User      *sm.User
	Live      []*sm.Session
	Past      []*sm.Session
	MorePast  string
	Countries []string
	Devices   []string
	Events    []*sm.Event
}

func (s *server) handleUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := s.d.Store.UserByID(ctx, r.PathValue("id"))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := userData{User: u}
	live, err := s.d.Store.ListSessions(ctx, sm.SessionFilter{UserID: u.ID, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Sort: sm.SortLastSeen, Desc: true, Limit: 100})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Live = live.Sessions
	past, err := s.d.Store.ListSessions(ctx, sm.SessionFilter{UserID: u.ID, Status: []sm.Status{sm.StatusEnded}, Sort: sm.SortCreated, Desc: true, Limit: 20})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Past = past.Sessions
	if past.NextCursor != "" {
		d.MorePast = "/admin/sessions?" + url.Values{"user": {u.ID}, "status": {"ended"}, "sort": {"created_at"}}.Encode()
	}
	h, err := s.d.Store.LoginHistory(ctx, u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Countries, d.Devices = h.Countries, h.DeviceFamilies
	events, _, err := s.d.Store.ListEvents(ctx, sm.EventFilter{UserID: u.ID, Desc: true, Limit: 30})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Events = events
	s.render(w, r, http.StatusOK, "user", userName(u), "users", d)
}

func userName(u *sm.User) string {
	if u.Email != "" {
		return u.Email
	}
	if u.Username != "" {
		return u.Username
	}
	return u.ID
}

func (s *server) handleTerminateAll(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.d.Store.UserByID(r.Context(), id); err != nil {
		s.serverError(w, r, err)
		return
	}
	if _, err := s.d.Manager.EndUserSessions(r.Context(), id, sm.EndManual, s.actor(r), ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectBack(w, r, "/admin/users/"+url.PathEscape(id), "terminated-all")
}

func (s *server) handleBlock(blocked bool) http.HandlerFunc {
	done := "unblocked"
	if blocked {
		done = "blocked"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := s.d.Manager.SetBlocked(r.Context(), id, blocked, s.actor(r)); err != nil {
			s.serverError(w, r, err)
			return
		}
		s.redirectBack(w, r, "/admin/users/"+url.PathEscape(id), done)
	}
}
