package web

import (
	"net/http"
	"net/url"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type sessionsData struct {
	Query     sessionQuery
	Errors    map[string]string
	Sessions  []*sm.Session
	Total     sm.SessionCount // every page of the filter
	CSV       string          // the export of this filter
	NDJSON    string
	Next      string // URL of the next page, "" on the last
	First     string // URL of the first page, "" on it
	LiveURL   string // the fragment this page refreshes from
	Countries []sm.CountryInfo
	Devices   []string
	Threats   []string
	Statuses  []statusChoice
}

// loadSessions runs the page's query; bad input is a 400 with the fields.
func (s *server) loadSessions(r *http.Request) (sessionsData, int, error) {
	q, f, bad := parseSessionQuery(r.URL.Query())
	d := sessionsData{Query: q, Errors: bad, Countries: sm.Countries(), Devices: deviceChoices, Threats: threatChoices, Statuses: statusChoices}
	d.LiveURL = q.URL("/admin/sessions/table", q.Cursor)
	d.CSV, d.NDJSON = q.ExportURL("csv"), q.ExportURL("ndjson")
	if len(bad) > 0 {
		return d, http.StatusBadRequest, nil
	}
	page, err := s.d.Core.Sessions.ListSessions(r.Context(), f)
	if err != nil {
		if sm.ErrorCode(err) == sm.EINVALID {
			d.Errors = map[string]string{"cursor": "this page link is no longer valid; start from the first page"}
			return d, http.StatusBadRequest, nil
		}
		return d, 0, err
	}
	d.Sessions = page.Sessions
	if d.Total, err = s.d.Core.Sessions.CountSessions(r.Context(), f); err != nil {
		return d, 0, err
	}
	if page.NextCursor != "" {
		d.Next = q.URL("/admin/sessions", page.NextCursor)
	}
	if q.Cursor != "" {
		d.First = q.URL("/admin/sessions", "")
	}
	return d, http.StatusOK, nil
}

// redirectLegacy sends a link in the dashboard's old query names to the
// same list in the API's names (shared links keep working); true when it did.
func redirectLegacy(w http.ResponseWriter, r *http.Request, rename func(url.Values) (url.Values, bool)) bool {
	v, ok := rename(r.URL.Query())
	if !ok {
		return false
	}
	u := *r.URL
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
	return true
}

func (s *server) handleSessions(w http.ResponseWriter, r *http.Request) {
	if redirectLegacy(w, r, renameLegacySessionQuery) {
		return
	}
	d, status, err := s.loadSessions(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, "sessions", "Sessions", "sessions", d)
}

// handleSessionsTable is the table alone: what the live refresh swaps in.
func (s *server) handleSessionsTable(w http.ResponseWriter, r *http.Request) {
	if redirectLegacy(w, r, renameLegacySessionQuery) {
		return
	}
	d, status, err := s.loadSessions(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	s.renderFragment(w, r, "sessions", "sessions_table", d)
}

// handleSessionsExport streams the sessions of the page's filter (every
// page) through the core's exporter, the admin API's export, which audits it.
func (s *server) handleSessionsExport(w http.ResponseWriter, r *http.Request) {
	sm.Exports{Sessions: s.d.Core.Sessions, Audit: s.d.Core.Audit, Now: s.now, Log: s.log, Fail: s.serverError}.ServeSessions(w, r)
}

func (s *server) handleTerminate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.d.Core.Sessions.TerminateSession(r.Context(), id); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectBack(w, r, "/admin/sessions/"+url.PathEscape(id), "terminated")
}

// handleTerminateMany ends every selected session (at most one page).
func (s *server) handleTerminateMany(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	ids := r.PostForm["id"]
	if len(ids) == 0 {
		s.renderError(w, r, http.StatusBadRequest, "Nothing selected", "Select the sessions to terminate first.")
		return
	}
	if len(ids) > 500 {
		s.renderError(w, r, http.StatusBadRequest, "Too many sessions", "Terminate at most 500 sessions at once.")
		return
	}
	for _, id := range ids {
		if _, err := s.d.Core.Sessions.TerminateSession(r.Context(), id); err != nil && !sm.IsNotFound(err) {
			s.serverError(w, r, err)
			return
		}
	}
	s.redirectBack(w, r, "/admin/sessions", "terminated-many")
}

// redirectBack answers an action with 303 to the form's "back" page (a
// dashboard path) or def, with a confirmation key.
// isElementID reports whether s is a plain element id (letters, digits,
// "-" and "_", at most 100).
func isElementID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return true
}

func (s *server) redirectBack(w http.ResponseWriter, r *http.Request, def, done string) {
	back := r.PostFormValue("back")
	if back == "" {
		back = def
	}
	_, frag, _ := strings.Cut(back, "#")
	back = safeNext(back)
	u, err := url.Parse(back)
	if err != nil {
		u = &url.URL{Path: "/admin/"}
	}
	// safeNext drops the fragment; an element id ("rule-x") is kept so the
	// page opens where the admin acted.
	if isElementID(frag) {
		u.Fragment = frag
	}
	v := u.Query()
	v.Set("done", done)
	u.RawQuery = v.Encode()
	target := u.String()
	if !strings.HasPrefix(target, "/admin/") {
		target = "/admin/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
