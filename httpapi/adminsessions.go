package httpapi

import (
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// handleListAdminSessions lists the live dashboard sign-ins (every admin's,
// or one admin's with ?adminId=), newest first.
func (s *server) handleListAdminSessions() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		adminID := r.URL.Query().Get("adminId")
		if len(adminID) > 64 {
			return nil, sm.InvalidFields(map[string]string{"adminId": "is not an admin id"})
		}
		list, err := s.Core.AdminSessions.ListAdminSessions(r.Context(), adminID)
		if list == nil {
			list = []*sm.AdminSession{}
		}
		return list, err
	})
}

// handleEndAdminSession ends one dashboard sign-in on every instance (the
// Manager records it in the audit log); 404 when unknown or already ended.
func (s *server) handleEndAdminSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Core.AdminSessions.EndAdminSession(r.Context(), r.PathValue("id"), sm.EndManual); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
