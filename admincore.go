package sessionmanager

import (
	"context"
	"net/netip"
	"time"
)

// The admin use cases. The admin API (httpapi) and the dashboard (web) are
// two faces of them: they call these small interfaces, never the store, and
// *Manager implements every one. Each method that changes something audits
// itself, once, naming the admin that ctx carries (WithActor): the front
// ends only say who is acting.
//
// Actor rule: these methods read the actor from ctx. The lower-level verbs
// that end users, the system and admins share (EndSession, EndUserSessions,
// ChangePassword) take it as an argument, because their caller is not
// always an admin.

// SessionAdmin is what an admin does with end users' sessions.
type SessionAdmin interface {
	// ListSessions returns one page of sessions (ParseSessionQuery reads
	// the filter from a query string).
	ListSessions(ctx context.Context, f SessionFilter) (SessionPage, error)
	// CountSessions counts the sessions the filter selects, all pages.
	CountSessions(ctx context.Context, f SessionFilter) (SessionCount, error)
	// Session returns a session or ENOTFOUND.
	Session(ctx context.Context, id string) (*Session, error)
	// TerminateSession ends a session (reason manual) on every instance
	// and returns it as it is now; an ended session stays ended.
	TerminateSession(ctx context.Context, id string) (*Session, error)
	// DeleteSession ends a session, then deletes its record.
	DeleteSession(ctx context.Context, id string) error
	// CleanEndedSessions deletes every ended session now and returns how many.
	CleanEndedSessions(ctx context.Context) (int, error)
}

// UserAdmin is what an admin does with end users.
type UserAdmin interface {
	// ListUsers returns one page of users (ParseUserQuery reads the filter).
	ListUsers(ctx context.Context, f UserFilter) (users []*User, nextCursor string, err error)
	// User returns a user or ENOTFOUND.
	User(ctx context.Context, id string) (*User, error)
	// LoginHistory is the countries and device families the user signed in from.
	LoginHistory(ctx context.Context, userID string) (LoginHistory, error)
	// TerminateUserSessions ends every live session of the user and returns
	// how many ended.
	TerminateUserSessions(ctx context.Context, userID string) (int, error)
	// SetBlocked blocks (ending every session) or unblocks a user.
	SetBlocked(ctx context.Context, userID string, blocked bool) (*User, error)
	// EraseUser ends the user's sessions and erases their personal data
	// (GDPR); it returns how many sessions ended.
	EraseUser(ctx context.Context, userID string) (sessionsEnded int, err error)
}

// AuditLog reads and checks the audit log.
type AuditLog interface {
	// ListEvents returns one page of the log (ParseEventQuery reads the filter).
	ListEvents(ctx context.Context, f EventFilter) (events []*Event, nextCursor string, err error)
	// VerifyAudit checks the chain against its signed head and checkpoints.
	VerifyAudit(ctx context.Context) (AuditReport, error)
	// RecordExport audits an export the front end streamed to the admin.
	RecordExport(ctx context.Context, x Export)
}

// Export is a finished export, as the audit log records it.
type Export struct {
	What   ExportKind
	UserID string // the user of a personal-data export
	Format string // csv, json, ndjson
	Rows   int
}

// ExportKind names what an export holds.
type ExportKind string

// Export kinds.
const (
	ExportSessions ExportKind = "sessions"
	ExportAudit    ExportKind = "audit"
	ExportUser     ExportKind = "user" // a user's personal data (GDPR access)
)

// StatsReader computes the dashboard's aggregates.
type StatsReader interface {
	// Stats at now, computed in the store.
	Stats(ctx context.Context) (*Stats, error)
}

// SettingsAdmin reads and changes the settings.
type SettingsAdmin interface {
	// Settings returns the current settings.
	Settings(ctx context.Context) (*Settings, error)
	// UpdateSettings applies a JSON merge patch, validated whole.
	UpdateSettings(ctx context.Context, patch []byte) (*Settings, error)
	// SessionTimeouts returns the session timeouts in force and where each
	// comes from (a stored setting or the environment).
	SessionTimeouts(ctx context.Context) (SessionTimeouts, error)
	// FeatureLock reports whether the licence locks feature, and the
	// edition that unlocks it.
	FeatureLock(feature string) (edition string, locked bool)
}

// AdminTokens checks and manages the admin API tokens.
type AdminTokens interface {
	// CheckAdminToken returns the live token in clear text token if its
	// scope allows scope: EUNAUTHORIZED for a missing or unknown token,
	// EFORBIDDEN for too weak a scope.
	CheckAdminToken(ctx context.Context, token, scope string) (*AdminToken, error)
	// ListAdminTokens lists every token, revoked ones too (never a hash).
	ListAdminTokens(ctx context.Context) ([]*AdminToken, error)
	// CreateAdminToken returns the new token in clear: the one time it is shown.
	CreateAdminToken(ctx context.Context, name, scope string) (string, *AdminToken, error)
	// RevokeAdminToken stops a token at once; ENOTFOUND when unknown.
	RevokeAdminToken(ctx context.Context, id string) error
}

// AdminAuth signs admins in to the dashboard and checks their sessions.
type AdminAuth interface {
	// CheckAdminSignIn returns the admin whose email and password these
	// are and, when the admin has TOTP on, whose code is right and not used
	// before on any instance; EUNAUTHORIZED for an unknown email, a wrong
	// password and a wrong or replayed code alike, in the same time (no
	// account enumeration).
	CheckAdminSignIn(ctx context.Context, email, password, code string) (*Admin, error)
	// Admin returns the admin account or ENOTFOUND.
	Admin(ctx context.Context, id string) (*Admin, error)
	// ReserveAdminSignIn counts a sign-in before its password is checked.
	ReserveAdminSignIn(ctx context.Context, email string, ip netip.Addr) (*AdminSignIn, error)
	// StartAdminSession records a sign-in; the token (for the cookie) is shown only here.
	StartAdminSession(ctx context.Context, adminID string, client ClientInfo) (string, *AdminSession, error)
	// CheckAdminSession returns the live session of a cookie token, as activity.
	CheckAdminSession(ctx context.Context, token string) (*AdminSession, error)
	// PeekAdminSession is CheckAdminSession for background requests (not activity).
	PeekAdminSession(ctx context.Context, token string) (*AdminSession, error)
}

// AdminSessions lists and ends dashboard sessions and changes an admin's
// own password.
type AdminSessions interface {
	// ListAdminSessions lists the live sessions of adminID ("" for every admin).
	ListAdminSessions(ctx context.Context, adminID string) ([]*AdminSession, error)
	// EndAdminSession ends one on every instance; ENOTFOUND when unknown or ended.
	EndAdminSession(ctx context.Context, id string, reason EndReason) error
	// ChangeAdminPassword checks the current password, sets the next one and
	// ends the admin's other sessions (currentSessionID stays).
	ChangeAdminPassword(ctx context.Context, adminID, current, next, currentSessionID string) (ended int, err error)
}

// ServiceStatus is what the admin is told about the service itself.
type ServiceStatus interface {
	// GeoStatus is the geo and threat sources and what they provide.
	GeoStatus() GeoStatus
	// ConfigWarnings are the features on without the data they need.
	ConfigWarnings(ctx context.Context) []ConfigWarning
	// SharedStatus is the link the instances share (bus, Redis mode, health).
	SharedStatus() SharedStatus
	// Now is the core's clock.
	Now() time.Time
}

// AlertRuleTrials tries alert rules on recorded events, delivering nothing.
type AlertRuleTrials interface {
	// RecentAlertEvents lists the newest events rules run on.
	RecentAlertEvents(ctx context.Context, limit int) ([]*Event, error)
	// TryAlertRule says whether rule ruleID would fire on event eventSeq, and why.
	TryAlertRule(ctx context.Context, ruleID string, eventSeq int64) (RuleTrial, error)
	// AlertRuleGuide is the triggers, channel types and the condition's
	// event object, for the rule editor.
	AlertRuleGuide() AlertRuleGuide
}

// AdminCore bundles the admin use cases a front end is given. Each field is
// one small interface; (*Manager).AdminCore fills them all.
type AdminCore struct {
	Sessions      SessionAdmin
	Users         UserAdmin
	Audit         AuditLog
	Stats         StatsReader
	Settings      SettingsAdmin
	Tokens        AdminTokens
	SignIn        AdminAuth
	AdminSessions AdminSessions
	// Team manages the admins (roles, invitations, deactivation).
	Team TeamAdmin
	// TwoFactor is the two-step sign-in and the admins' own TOTP.
	TwoFactor  AdminTwoFactor
	Status     ServiceStatus
	RuleTrials AlertRuleTrials
	// License reads and sets the licence key (Manager.LicenseAdmin); nil
	// when the service has no licence admin.
	License LicenseAdmin
	// Security is a user's factors, trusted devices and challenge history
	// (usersecurity.go).
	Security UserSecurity
}

// AdminCore returns the Manager as every admin use case.
func (m *Manager) AdminCore() AdminCore {
	return AdminCore{Sessions: m, Users: m, Audit: m, Stats: m, Settings: m, Tokens: m, SignIn: m, AdminSessions: m, Team: m, TwoFactor: m, Status: m,
		RuleTrials: m, License: m.LicenseAdmin(), Security: m}
}

var (
	_ SessionAdmin    = (*Manager)(nil)
	_ UserAdmin       = (*Manager)(nil)
	_ AuditLog        = (*Manager)(nil)
	_ StatsReader     = (*Manager)(nil)
	_ SettingsAdmin   = (*Manager)(nil)
	_ AdminTokens     = (*Manager)(nil)
	_ AdminAuth       = (*Manager)(nil)
	_ AdminSessions   = (*Manager)(nil)
	_ ServiceStatus   = (*Manager)(nil)
	_ AlertRuleTrials = (*Manager)(nil)
)
