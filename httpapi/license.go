package httpapi

import (
	"context"
	"net/http"
)

// LicenseAdmin is what the licence endpoints need; package license
// provides it (cmd/sessionmanager adapts it).
type LicenseAdmin interface {
	Info() any
	Set(ctx context.Context, key string) (any, error)
}

type licenseRequest struct {
	Key string `json:"key"`
}

func (q licenseRequest) Valid() map[string]string {
	if q.Key == "" {
		return map[string]string{"key": "is required"}
	}
	if len(q.Key) > 8192 {
		return map[string]string{"key": "is too long"}
	}
	return nil
}

// licenseRoutes: GET /api/admin/license (read) and PUT (write).
func (s *server) licenseRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/admin/license", s.admin("read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]any{"data": s.License.Info()})
	})))
	mux.Handle("PUT /api/admin/license", s.admin("write", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[licenseRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info, err := s.License.Set(r.Context(), req.Key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.Core.Audit.RecordAdminAction(r.Context(), "license.set", nil)
		encode(w, http.StatusOK, map[string]any{"data": info})
	})))
}
