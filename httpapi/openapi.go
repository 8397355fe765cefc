package httpapi

import (
	"net/http"

	"github.com/magic-sessionmanager/sessionmanager/api"
)

// handleOpenAPI serves the OpenAPI 3.1 document of the whole API (kept in
// api/openapi.json; a test checks it lists every route of this package).
func (s *server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(api.OpenAPI)
	})
}
