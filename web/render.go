package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

//go:embed templates
var templateFS embed.FS

// pageNames are the pages; each is templates/<name>.html on the layout.
var pageNames = []string{"login", "error", "home", "sessions", "session", "users", "user", "security", "audit", "settings", "analytics", "data", "account", "team", "tokens", "invite"}

// pageTemplate is one page's template set (layout, partials, page).
type pageTemplate struct{ t *template.Template }

// page is what every template gets.
type page struct {
	Title   string
	Nav     string
	Admin   *sm.Admin
	CSRF    string
	Demo    bool
	License LicenseInfo
	Now     time.Time
	Flash   string
	// Warnings are the configuration warnings: a banner on every page
	// links them to the Data sources page.
	Warnings []sm.ConfigWarning
	// CanWrite: the admin's role may change things (a viewer sees no
	// write controls); CanTeam: it may manage the team.
	CanWrite, CanTeam bool
	// FirstRun names the initial-admin-password file while it exists.
	FirstRun string
	Data     any
}

func parsePages() (map[string]*pageTemplate, error) {
	out := make(map[string]*pageTemplate, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(templateFuncs()).ParseFS(templateFS,
			"templates/layout.html", "templates/partials/*.html", path.Join("templates", name+".html"))
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		out[name] = &pageTemplate{t: t}
	}
	return out, nil
}

// render writes a full page (the layout around the page's "content").
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	p := page{Title: title, Nav: nav, Admin: adminFrom(r.Context()), CSRF: csrfFrom(r.Context()),
		Demo: s.d.Demo, License: s.license(), Now: s.now(), Data: data, Flash: flashMessages[r.URL.Query().Get("done")]}
	if p.Admin != nil {
		p.Warnings = s.d.Core.Status.ConfigWarnings(r.Context())
		p.CanWrite, p.CanTeam = sm.RoleAllows(p.Admin.Role, sm.PermWrite), sm.RoleAllows(p.Admin.Role, sm.PermTeam)
		p.FirstRun = s.firstRunFile()
	}
	s.execute(w, status, name, "layout", p)
}

// renderFragment writes one named template of a page (an htmx swap).
func (s *server) renderFragment(w http.ResponseWriter, r *http.Request, name, block string, data any) {
	p := page{Admin: adminFrom(r.Context()), CSRF: csrfFrom(r.Context()), Now: s.now(), Data: data}
	s.execute(w, http.StatusOK, name, block, p)
}

func (s *server) execute(w http.ResponseWriter, status int, name, block string, p page) {
	pt, ok := s.pages[name]
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, block, p); err != nil {
		s.log.Error("render", "page", name, "block", block, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashMessages are the confirmations a redirect after an action may show
// (?done=key); only these fixed texts, never text from the URL.
var flashMessages = map[string]string{
	"terminated":          "Session terminated.",
	"terminated-many":     "Selected sessions terminated.",
	"terminated-all":      "All of the user's sessions were terminated.",
	"blocked":             "User blocked and signed out everywhere.",
	"unblocked":           "User unblocked.",
	"settings":            "Settings saved. They apply to the next login.",
	"rule-saved":          "Alert rule saved.",
	"rule-deleted":        "Alert rule deleted.",
	"test-sent":           "Test alert sent.",
	"retried":             "Delivery queued for another attempt.",
	"admin-session-ended": "That sign-in was ended on every instance.",
	"password-changed":    "Password changed. Your other sign-ins were ended.",
	"invited":             "Invitation sent. The link works once and expires in 72 hours.",
	"invite-revoked":      "Invitation revoked. Its link no longer works.",
	"role-changed":        "Role changed.",
	"admin-deactivated":   "Admin deactivated and signed out everywhere.",
	"admin-reactivated":   "Admin reactivated.",
	"admin-signed-out":    "Every sign-in of that admin was ended.",
	"token-revoked":       "Token revoked. It is refused from now on.",
	"totp-disabled":       "Two-factor sign-in turned off.",
	"factors-reset":       "The user's factors were reset: TOTP, recovery codes and passkeys must be enrolled again.",
	"devices-forgotten":   "The user's trusted devices were forgotten: each is challenged at its next login.",
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	s.render(w, r, status, "error", heading, "", errorData{Status: status, Heading: heading, Message: msg})
}

// serverError logs err (the cause of a 500 or 503) and answers with the status of its code and a safe
// message.
func (s *server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	code := sm.ErrorCode(err)
	status := sm.HTTPStatus(code)
	switch code {
	case sm.EINTERNAL:
		s.log.Error("dashboard request failed", "path", r.URL.Path, "err", err)
	case sm.EUNAVAILABLE:
		// The page says only "unavailable"; the cause is for the log.
		s.log.Warn("dashboard request refused: a dependency is unavailable", "path", r.URL.Path, "err", err)
	}
	s.renderError(w, r, status, http.StatusText(status), sm.ErrorMessage(err))
}

// subFS is fs.Sub that cannot fail for a literal directory.
func subFS(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}
