package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type usersData struct {
	Search  string
	Blocked string // "", true or false
	Users   []*sm.User
	Next    string
	Error   string
}

// renameLegacyUserQuery translates the users page's old blocked=yes|no into
// the API's blocked=true|false.
func renameLegacyUserQuery(v url.Values) (url.Values, bool) {
	names := map[string]string{"yes": "true", "no": "false"}
	n, ok := names[v.Get("blocked")]
	if !ok {
		return v, false
	}
	out := cloneValues(v)
	out.Set("blocked", n)
	return out, true
}

func (s *server) handleUsers(w http.ResponseWriter, r *http.Request) {
	if redirectLegacy(w, r, renameLegacyUserQuery) {
		return
	}
	q := r.URL.Query()
	d := usersData{Search: strings.TrimSpace(q.Get("q")), Blocked: q.Get("blocked")}
	f, err := sm.ParseUserQuery(q)
	if err != nil {
		var msgs []string
		for k, v := range fieldErrors(err) {
			msgs = append(msgs, k+": "+v)
		}
		slices.Sort(msgs)
		d.Error = strings.Join(msgs, "; ")
		s.render(w, r, http.StatusBadRequest, "users", "Users", "users", d)
		return
	}
	users, next, err := s.d.Core.Users.ListUsers(r.Context(), f)
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
	// Security is the factors, trusted devices and challenge history
	// (nil without AdminCore.Security).
	Security *userSecurity
}

func (s *server) handleUser(w http.ResponseWriter, r *http.Request) {
	s.renderUser(w, r, r.PathValue("id"), http.StatusOK, "")
}

// renderUser renders the user page with status; stepUpError is why a
// sensitive action was just refused.
func (s *server) renderUser(w http.ResponseWriter, r *http.Request, id string, status int, stepUpError string) {
	ctx := r.Context()
	u, err := s.d.Core.Users.User(ctx, id)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := userData{User: u}
	live, err := s.d.Core.Sessions.ListSessions(ctx, sm.SessionFilter{UserID: u.ID, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Sort: sm.SortLastSeen, Desc: true, Limit: 100})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Live = live.Sessions
	past, err := s.d.Core.Sessions.ListSessions(ctx, sm.SessionFilter{UserID: u.ID, Status: []sm.Status{sm.StatusEnded}, Sort: sm.SortCreated, Desc: true, Limit: 20})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Past = past.Sessions
	if past.NextCursor != "" {
		d.MorePast = "/admin/sessions?" + url.Values{"user": {u.ID}, "status": {"ended"}, "sort": {"created_at"}}.Encode()
	}
	h, err := s.d.Core.Users.LoginHistory(ctx, u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Countries, d.Devices = h.Countries, h.DeviceFamilies
	events, _, err := s.d.Core.Audit.ListEvents(ctx, sm.EventFilter{UserID: u.ID, Desc: true, Limit: 30})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Events = events
	if d.Security, err = s.userSecurity(r, u.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	if d.Security != nil {
		d.Security.StepUpError = stepUpError
	}
	s.render(w, r, status, "user", userName(u), "users", d)
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
	if _, err := s.d.Core.Users.TerminateUserSessions(r.Context(), id); err != nil {
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
		if _, err := s.d.Core.Users.SetBlocked(r.Context(), id, blocked); err != nil {
			s.serverError(w, r, err)
			return
		}
		s.redirectBack(w, r, "/admin/users/"+url.PathEscape(id), done)
	}
}
