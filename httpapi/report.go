package httpapi

import (
	"html/template"
	"net/http"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The "This wasn't me" link of the emails to users (sm.ReportPath). GET
// shows a confirm page and changes nothing (mail scanners prefetch links);
// POST (the page's form, or JSON for an app's own page) reports the
// session: Manager.ReportSession.

// reportPage is the confirm page, its result and its errors.
var reportPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Title}}</title>
<style>body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2937;max-width:36rem;margin:3rem auto;padding:0 1rem}
th{text-align:left;padding-right:1rem}button{font:inherit;padding:.5rem 1rem;margin:.5rem .5rem 0 0;cursor:pointer}
.danger{background:#b91c1c;color:#fff;border:0;border-radius:4px}.muted{color:#6b7280}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p id="report-error">{{.Error}}</p>
{{else if .Done}}<p id="report-done">That session is signed out{{if .EndAll}}, and so is every other session of your account{{end}}.</p>
<p>Before you can sign in with a password again, choose a new one: use <strong>Forgot password</strong> on the sign-in page.</p>
{{else}}<p>Someone signed in to your account:</p>
<table><tr><th>When</th><td>{{.When}}</td></tr><tr><th>Where</th><td>{{.Where}}</td></tr>
<tr><th>IP</th><td>{{.IP}}</td></tr><tr><th>Device</th><td>{{.Device}}</td></tr></table>
<p>If this was not you, sign that session out now. You will then have to choose a new password before the next sign-in with a password.</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="token" value="{{.Token}}">
<button class="danger" type="submit" name="endAll" value="0" id="report-one">Sign that session out</button>
<button class="danger" type="submit" name="endAll" value="1" id="report-all">Sign out all my sessions</button>
</form><p class="muted">If it was you, close this page: nothing changes.</p>{{end}}
</body></html>`))

type reportPageData struct {
	Title, Error, Token, Action string
	When, Where, IP, Device     string
	Done, EndAll                bool
}

// writeReportPage answers with the page; the token is in the URL, so the
// page sends no referrer and is never cached or framed.
func writeReportPage(w http.ResponseWriter, status int, d reportPageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_ = reportPage.Execute(w, d)
}

// reportFailure shows a refused link on the page: the client's error
// message for a 4xx, a generic one (logged) otherwise.
func (s *server) reportFailure(w http.ResponseWriter, r *http.Request, err error) {
	status := sm.HTTPStatus(sm.ErrorCode(err))
	msg := "Something went wrong; try again later."
	if status < 500 {
		msg = sm.ErrorMessage(err)
	} else {
		s.log.Error("session report", "method", r.Method, "err", err)
	}
	writeReportPage(w, status, reportPageData{Title: "This wasn't me", Error: msg})
}

// handleReportPage is GET /api/auth/report?token=: the confirm page.
func (s *server) handleReportPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		rep, err := s.Manager.CheckSessionReport(r.Context(), token)
		if err != nil {
			s.reportFailure(w, r, err)
			return
		}
		ses := rep.Session
		d := reportPageData{Title: "Was this you?", Token: token, Action: sm.ReportPath,
			When: ses.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), Where: placeName(ses.Location), IP: "-",
			Device: strings.Trim(ses.Device.Browser+" / "+ses.Device.OS, " /")}
		if ses.IP.IsValid() {
			d.IP = ses.IP.String()
		}
		if d.Device == "" {
			d.Device = "-"
		}
		writeReportPage(w, http.StatusOK, d)
	})
}

// placeName names a location for people: "Berlin, Germany".
func placeName(l sm.Location) string {
	var parts []string
	for _, p := range []string{l.City, l.CountryName} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 && l.CountryCode != "" {
		parts = append(parts, l.CountryCode)
	}
	if len(parts) == 0 {
		return "an unknown place"
	}
	return strings.Join(parts, ", ")
}

type reportRequest struct {
	Token  string `json:"token"`
	EndAll bool   `json:"endAll"`
}

func (q reportRequest) Valid() map[string]string {
	switch {
	case strings.TrimSpace(q.Token) == "":
		return map[string]string{"token": "is required"}
	case len(q.Token) > 256:
		return map[string]string{"token": "this link is not valid"}
	}
	return nil
}

// handleReport is POST /api/auth/report: the page's form (answered with
// the page) or JSON {"token","endAll"} (answered with JSON).
func (s *server) handleReport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := strings.ToLower(r.Header.Get("Content-Type"))
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := r.ParseForm(); err != nil {
				s.reportFailure(w, r, &sm.Error{Code: sm.EINVALID, Message: "The form could not be read.", Fields: map[string]string{"body": "is not a valid form"}})
				return
			}
			req := reportRequest{Token: r.PostForm.Get("token"), EndAll: r.PostForm.Get("endAll") == "1"}
			if bad := req.Valid(); bad != nil {
				s.reportFailure(w, r, sm.InvalidFields(bad))
				return
			}
			if _, err := s.Manager.ReportSession(r.Context(), req.Token, req.EndAll, s.clientInfo(r)); err != nil {
				s.reportFailure(w, r, err)
				return
			}
			writeReportPage(w, http.StatusOK, reportPageData{Title: "Session signed out", Done: true, EndAll: req.EndAll})
			return
		}
		req, err := decode[reportRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rep, err := s.Manager.ReportSession(r.Context(), req.Token, req.EndAll, s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"reported": true, "sessionId": rep.Session.ID, "ended": rep.Ended, "passwordResetRequired": true})
	})
}
