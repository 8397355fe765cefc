package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// exportPage is how many rows an export reads from the store at a time, so
// the memory of an export does not grow with the number of rows.
const exportPage = 500

// exportRoutes adds the admin export, GDPR, token management and OpenAPI
// endpoints.
func (s *server) exportRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/openapi.json", s.handleOpenAPI())
	mux.Handle("GET /api/admin/export/sessions", s.admin(sm.ScopeRead, s.handleExportSessions()))
	mux.Handle("GET /api/admin/export/audit", s.admin(sm.ScopeRead, s.handleExportAudit()))
	mux.Handle("GET /api/admin/users/{id}/export", s.admin(sm.ScopeRead, s.handleUserExport()))
	mux.Handle("DELETE /api/admin/users/{id}/personal-data", s.admin(sm.ScopeWrite, s.handleEraseUser()))
	mux.Handle("GET /api/admin/tokens", s.admin(sm.ScopeRead, s.handleListTokens()))
	mux.Handle("POST /api/admin/tokens", s.admin(sm.ScopeWrite, s.handleCreateToken()))
	mux.Handle("DELETE /api/admin/tokens/{id}", s.admin(sm.ScopeWrite, s.handleRevokeToken()))
}

// exportQuery reads ?format= (csv, json or ndjson; ndjson by default) and
// returns the other parameters without limit and cursor: an export is
// always complete.
func exportQuery(r *http.Request) (string, url.Values, error) {
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	switch format {
	case "":
		format = "ndjson"
	case "ndjson", "csv", "json":
	default:
		return "", nil, sm.InvalidFields(map[string]string{"format": "must be csv, json or ndjson"})
	}
	q.Del("limit")
	q.Del("cursor")
	return format, q, nil
}

func (s *server) handleExportSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format, q, err := exportQuery(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f, err := sm.ParseSessionQuery(q)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f.Limit = exportPage
		next := func(ctx context.Context) ([]*sm.Session, bool, error) {
			p, err := s.Core.Sessions.ListSessions(ctx, f)
			if err != nil {
				return nil, false, err
			}
			f.Cursor = p.NextCursor
			return p.Sessions, p.NextCursor != "", nil
		}
		out := newExportWriter(format, sessionColumns, sessionCells)
		if n, ok := streamExport(s, w, r, exportFilename("sessions", format, s.now()), out, next); ok {
			s.Core.Audit.RecordExport(r.Context(), sm.Export{What: sm.ExportSessions, Format: format, Rows: n})
		}
	})
}

func (s *server) handleExportAudit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format, q, err := exportQuery(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f, err := sm.ParseEventQuery(q)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f.Limit = exportPage
		next := func(ctx context.Context) ([]*sm.Event, bool, error) {
			events, cursor, err := s.Core.Audit.ListEvents(ctx, f)
			if err != nil {
				return nil, false, err
			}
			f.Cursor = cursor
			return events, cursor != "", nil
		}
		out := newExportWriter(format, eventColumns, eventCells)
		if n, ok := streamExport(s, w, r, exportFilename("audit", format, s.now()), out, next); ok {
			s.Core.Audit.RecordExport(r.Context(), sm.Export{What: sm.ExportAudit, Format: format, Rows: n})
		}
	})
}
