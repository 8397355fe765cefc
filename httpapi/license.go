package httpapi

import (
	"net/http"
)

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

// licenseRoutes: GET /api/admin/license (read) and PUT (write), when the
// core has a licence admin (Core.License). The core audits a new key.
func (s *server) licenseRoutes(mux *http.ServeMux) {
	lic := s.Core.License
	if lic == nil {
		return
	}
	mux.Handle("GET /api/admin/license", s.admin("read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]any{"data": lic.LicenseInfo()})
	})))
	mux.Handle("PUT /api/admin/license", s.admin("write", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[licenseRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info, err := lic.SetLicense(r.Context(), req.Key)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": info})
	})))
}
