package web

import (
	"net/http"
)

// routes lists every route of the dashboard in one place.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /admin/static/", staticHandler())
	mux.HandleFunc("GET /admin/login", s.handleLoginPage)
	mux.HandleFunc("POST /admin/login", s.handleLogin)
	mux.HandleFunc("POST /admin/login/code", s.handleLoginCode)
	mux.HandleFunc("GET /admin/invite", s.handleInvitePage)
	mux.HandleFunc("POST /admin/invite", s.handleAcceptInvite)

	authed := http.NewServeMux()
	authed.HandleFunc("GET /admin/{$}", s.handleHome)
	authed.HandleFunc("POST /admin/logout", s.handleLogout)
	authed.HandleFunc("GET /admin/events", s.handleEvents)

	authed.HandleFunc("GET /admin/sessions", s.handleSessions)
	authed.HandleFunc("GET /admin/sessions/table", s.handleSessionsTable)
	authed.HandleFunc("GET /admin/sessions/export", s.handleSessionsExport)
	authed.HandleFunc("POST /admin/sessions/terminate", s.handleTerminateMany)
	authed.HandleFunc("GET /admin/sessions/{id}", s.handleSession)
	authed.HandleFunc("POST /admin/sessions/{id}/terminate", s.handleTerminate)

	authed.HandleFunc("GET /admin/users", s.handleUsers)
	authed.HandleFunc("GET /admin/users/{id}", s.handleUser)
	authed.HandleFunc("POST /admin/users/{id}/terminate-all", s.handleTerminateAll)
	authed.HandleFunc("POST /admin/users/{id}/block", s.handleBlock(true))
	authed.HandleFunc("POST /admin/users/{id}/unblock", s.handleBlock(false))
	authed.HandleFunc("POST /admin/users/{id}/factors/reset", s.handleUserSecurityAction("reset-factors"))
	authed.HandleFunc("POST /admin/users/{id}/trusted-devices/forget", s.handleUserSecurityAction("forget-devices"))

	authed.HandleFunc("GET /admin/security", s.handleSecurity)
	authed.HandleFunc("GET /admin/security/fragment", s.handleSecurityFragment)
	authed.HandleFunc("POST /admin/deliveries/{id}/retry", s.needAlerts(s.handleRetryDelivery))

	authed.HandleFunc("GET /admin/audit", s.handleAudit)
	authed.HandleFunc("GET /admin/audit/export", s.handleAuditExport)
	authed.HandleFunc("POST /admin/audit/verify", s.handleAuditVerify)

	authed.HandleFunc("GET /admin/settings", s.handleSettings)
	authed.HandleFunc("POST /admin/settings/geofence", s.handleGeofence)
	authed.HandleFunc("POST /admin/settings/policy", s.handlePolicy)
	authed.HandleFunc("POST /admin/settings/timeouts", s.handleTimeouts)
	authed.HandleFunc("POST /admin/settings/rules", s.needAlerts(s.handleRuleSave))
	authed.HandleFunc("POST /admin/settings/rules/{id}", s.needAlerts(s.handleRuleSave))
	authed.HandleFunc("POST /admin/settings/rules/{id}/delete", s.needAlerts(s.handleRuleDelete))
	authed.HandleFunc("POST /admin/settings/rules/{id}/test", s.needAlerts(s.handleRuleTest))
	authed.HandleFunc("POST /admin/settings/rules/{id}/try", s.needAlerts(s.handleRuleTry))

	authed.HandleFunc("GET /admin/analytics", s.handleAnalytics)
	authed.HandleFunc("GET /admin/data", s.handleDataSources)

	authed.HandleFunc("GET /admin/account", s.handleAccount)
	authed.HandleFunc("POST /admin/account/password", s.handleAdminPassword)
	authed.HandleFunc("POST /admin/account/sessions/{id}/end", s.handleEndAdminSession)
	authed.HandleFunc("/admin/", s.handleNotFound)

	authed.HandleFunc("POST /admin/account/totp", s.handleTOTPEnable)
	authed.HandleFunc("POST /admin/account/totp/disable", s.handleTOTPDisable)

	authed.HandleFunc("GET /admin/team", s.needTeam(s.handleTeam))
	authed.HandleFunc("POST /admin/team/invite", s.needTeam(s.handleInvite))
	authed.HandleFunc("POST /admin/team/invites/revoke", s.needTeam(s.handleRevokeInvite))
	authed.HandleFunc("POST /admin/team/{id}/role", s.needTeam(s.handleAdminRole))
	authed.HandleFunc("POST /admin/team/{id}/deactivate", s.needTeam(s.handleAdminDisabled(true)))
	authed.HandleFunc("POST /admin/team/{id}/reactivate", s.needTeam(s.handleAdminDisabled(false)))
	authed.HandleFunc("POST /admin/team/{id}/sign-out", s.needTeam(s.handleAdminSignOut))

	authed.HandleFunc("GET /admin/tokens", s.needTokens(s.handleTokens))
	authed.HandleFunc("POST /admin/tokens", s.needTokens(s.handleCreateToken))
	authed.HandleFunc("POST /admin/tokens/{id}/revoke", s.needTokens(s.handleRevokeToken))

	mux.Handle("/admin/", s.requireAdmin(s.requireCSRF(s.requireRole(authed))))
	return s.securityHeaders(s.cop.Handler(mux))
}

func (s *server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}
