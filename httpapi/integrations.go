package httpapi

import "net/http"

// integrationRoutes adds magic-link login, external sessions, token
// introspection and the revocation feed.
func (s *server) integrationRoutes(mux *http.ServeMux) {
	if s.MagicLinks != nil {
		mux.Handle("POST /api/auth/magic-link", s.handleMagicLinkRequest())
		mux.Handle("POST /api/auth/magic-link/verify", s.handleMagicLinkVerify())
	}
	mux.Handle("POST /api/sessions", s.admin("service", s.handleExternalSession()))
	mux.Handle("POST /api/auth/introspect", s.admin("service", s.handleIntrospect()))
	mux.Handle("GET /api/auth/revocations", s.admin("service", s.handleRevocations()))
}
