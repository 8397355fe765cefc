package httpapi

import (
	"context"
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// routes lists every route of the API in one place.
func (s *server) routes(mux *http.ServeMux) {
	// Health, metrics, keys.
	mux.Handle("GET /healthz", s.handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	if s.JWKS != nil {
		mux.Handle("GET /.well-known/jwks.json", s.JWKS)
	}

	// Strapi-shaped auth API.
	mux.Handle("POST /api/auth/local/register", s.handleRegister())
	mux.Handle("POST /api/auth/local", s.handleLogin())
	mux.Handle("POST /api/auth/refresh", s.handleRefresh())
	mux.Handle("POST /api/auth/logout", s.strapiUser(s.handleLogout()))
	mux.Handle("GET /api/auth/sessions", s.strapiUser(s.handleStrapiSessions()))
	mux.Handle("DELETE /api/auth/sessions/{sessionId}", s.strapiUser(s.handleStrapiRevokeSession()))
	mux.Handle("POST /api/auth/change-password", s.user(s.handleChangePassword()))
	mux.Handle("GET /api/users/me", s.user(s.handleMe()))
	mux.Handle("GET /api/auth/verify", s.handleVerify())
	mux.Handle("GET /api/auth/email-confirmation", s.handleEmailConfirmation())
	mux.Handle("POST /api/auth/send-email-confirmation", s.handleAccountMailRequest(sm.TokenConfirmEmail,
		func(email string) any { return map[string]any{"email": email, "sent": true} }))
	mux.Handle("POST /api/auth/forgot-password", s.handleAccountMailRequest(sm.TokenResetPassword,
		func(string) any { return map[string]any{"ok": true} }))
	mux.Handle("POST /api/auth/reset-password", s.handleResetPassword())
	// "This wasn't me" (the link of the emails about a sign-in).
	mux.Handle("GET /api/auth/report", s.handleReportPage()) // sm.ReportPath
	mux.Handle("POST /api/auth/report", s.handleReport())
	// Login challenges (step-up at login: docs/AUTHENTICATION.md).
	mux.Handle("POST /api/auth/challenge/verify", s.handleChallengeVerify())
	mux.Handle("POST /api/auth/challenge/send", s.handleChallengeSend())

	// Self-service sessions.
	mux.Handle("GET /api/sessions/me", s.user(s.handleMySessions()))
	mux.Handle("DELETE /api/sessions/me/{id}", s.user(s.handleEndMySession()))
	mux.Handle("POST /api/sessions/me/logout-others", s.user(s.handleLogoutOthers()))
	mux.Handle("POST /api/sessions/me/logout-all", s.user(s.handleLogoutAll()))
	mux.Handle("GET /api/users/me/trusted-devices", s.user(s.handleMyTrustedDevices()))
	mux.Handle("DELETE /api/users/me/trusted-devices", s.user(s.handleForgetMyTrustedDevices()))
	mux.Handle("DELETE /api/users/me/trusted-devices/{id}", s.user(s.handleForgetMyTrustedDevices()))

	// Passkeys: self-service and passwordless sign-in (passkeys.go).
	s.passkeyRoutes(mux)
	// Self-service second factors and step-up (docs/AUTHENTICATION.md).
	mux.Handle("GET /api/users/me/factors", s.user(s.handleMyFactors()))
	mux.Handle("POST /api/users/me/totp", s.user(s.handleBeginTOTP()))
	mux.Handle("POST /api/users/me/totp/confirm", s.user(s.handleConfirmTOTP()))
	mux.Handle("DELETE /api/users/me/totp", s.user(s.handleRemoveTOTP()))
	mux.Handle("POST /api/users/me/recovery-codes", s.user(s.handleRegenerateRecoveryCodes()))
	mux.Handle("POST /api/auth/step-up", s.user(s.handleStepUp()))

	// Admin API (Bearer admin token).
	mux.Handle("GET /api/admin/sessions", s.admin("read", s.handleAdminListSessions()))
	mux.Handle("GET /api/admin/sessions/{id}", s.admin("read", s.handleAdminGetSession()))
	mux.Handle("POST /api/admin/sessions/{id}/terminate", s.admin("write", s.handleAdminTerminate()))
	mux.Handle("DELETE /api/admin/sessions/{id}", s.admin("write", s.handleAdminDeleteSession()))
	mux.Handle("POST /api/admin/sessions/clean", s.admin("write", s.handleAdminClean()))
	mux.Handle("GET /api/admin/users", s.admin("read", s.handleAdminListUsers()))
	mux.Handle("GET /api/admin/users/{id}", s.admin("read", s.handleAdminGetUser()))
	mux.Handle("GET /api/admin/users/{id}/sessions", s.admin("read", s.handleAdminUserSessions()))
	mux.Handle("POST /api/admin/users/{id}/terminate-all", s.admin("write", s.handleAdminTerminateAll()))
	mux.Handle("POST /api/admin/users/{id}/block", s.admin("write", s.handleAdminBlock(true)))
	mux.Handle("POST /api/admin/users/{id}/unblock", s.admin("write", s.handleAdminBlock(false)))
	mux.Handle("GET /api/admin/users/{id}/factors", s.admin("read", s.handleAdminFactors()))
	mux.Handle("DELETE /api/admin/users/{id}/factors", s.admin("write", s.countHandler("reset", func(ctx context.Context, id string) (int, error) { return s.Core.Security.ResetFactors(ctx, id) })))
	mux.Handle("GET /api/admin/users/{id}/trusted-devices", s.admin("read", s.handleAdminTrustedDevices()))
	mux.Handle("DELETE /api/admin/users/{id}/trusted-devices", s.admin("write", s.countHandler("revoked", func(ctx context.Context, id string) (int, error) {
		return s.Core.Security.ForgetTrustedDevices(ctx, id)
	})))
	mux.Handle("GET /api/admin/users/{id}/challenges", s.admin("read", s.handleAdminChallengeHistory()))
	mux.Handle("GET /api/admin/stats", s.admin("read", s.handleAdminStats()))
	mux.Handle("GET /api/admin/settings", s.admin("read", s.handleAdminGetSettings()))
	mux.Handle("PUT /api/admin/settings", s.admin("write", s.handleAdminPutSettings()))
	mux.Handle("GET /api/admin/audit", s.admin("read", s.handleAdminAudit()))
	mux.Handle("GET /api/admin/audit/verify", s.admin("read", s.handleAdminAuditVerify()))
	mux.Handle("GET /api/admin/admin-sessions", s.admin("read", s.handleListAdminSessions()))
	mux.Handle("DELETE /api/admin/admin-sessions/{id}", s.admin("write", s.handleEndAdminSession()))
	// The literal segment wins over {ip} (net/http picks the most specific pattern).
	mux.Handle("GET /api/admin/geo/status", s.admin("read", s.handleAdminGeoStatus()))
	mux.Handle("GET /api/admin/geo/{ip}", s.admin("read", s.handleAdminGeo()))
	s.exportRoutes(mux)
	s.integrationRoutes(mux)
	s.licenseRoutes(mux)
	if s.Alerts != nil {
		s.mountAlerts(mux)
	}
	if s.Mount != nil {
		s.Mount(mux, s.admin)
	}

	if s.Admin != nil {
		mux.Handle("/admin/", s.Admin)
		mux.Handle("GET /{$}", http.RedirectHandler("/admin/", http.StatusFound))
	}
	mux.Handle("/api/", s.handleNotFound())
}
