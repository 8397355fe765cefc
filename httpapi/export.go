package httpapi

import (
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// exports streams the admin exports through the core's one exporter.
func (s *server) exports() sm.Exports {
	return sm.Exports{Sessions: s.Core.Sessions, Audit: s.Core.Audit, Now: s.now, Log: s.log, Fail: s.fail}
}

// exportRoutes adds the admin export, GDPR, token management and OpenAPI
// endpoints.
func (s *server) exportRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/openapi.json", s.handleOpenAPI())
	mux.Handle("GET /api/admin/export/sessions", s.admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.exports().ServeSessions(w, r) })))
	mux.Handle("GET /api/admin/export/audit", s.admin(sm.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.exports().ServeAudit(w, r) })))
	mux.Handle("GET /api/admin/users/{id}/export", s.admin(sm.ScopeRead, s.handleUserExport()))
	mux.Handle("DELETE /api/admin/users/{id}/personal-data", s.admin(sm.ScopeWrite, s.handleEraseUser()))
	mux.Handle("GET /api/admin/tokens", s.admin(sm.ScopeRead, s.handleListTokens()))
	mux.Handle("POST /api/admin/tokens", s.admin(sm.ScopeWrite, s.handleCreateToken()))
	mux.Handle("DELETE /api/admin/tokens/{id}", s.admin(sm.ScopeWrite, s.handleRevokeToken()))
}
