package sessionmanager

import (
	"context"
	"time"
)

// LicenseInfo is the licence in force as the admin API shows it (GET and
// PUT /api/admin/license). Package license fills it.
type LicenseInfo struct {
	// Edition is the edition in force now: free unless a licence is active.
	Edition string `json:"edition"`
	// Licensed is the edition the key names (even when expired).
	Licensed  string    `json:"licensedEdition,omitempty"`
	Status    string    `json:"status"` // none, active, expired, invalid
	Licensee  string    `json:"licensee,omitempty"`
	ID        string    `json:"id,omitempty"`
	Seats     int       `json:"seats,omitempty"`
	Instances int       `json:"instances,omitempty"`
	IssuedAt  time.Time `json:"issuedAt,omitzero"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// DaysLeft counts started days until expiry; 0 when not active.
	DaysLeft int `json:"daysLeft"`
	// Features lists every feature unlocked now.
	Features []string `json:"features"`
	// Notice is one sentence for the dashboard banner and the logs.
	Notice string `json:"notice"`
	// Warning is true when the notice needs attention.
	Warning bool `json:"warning"`
	Demo    bool `json:"demo"`
	// Source says where the key came from: LICENSE_KEY, store or admin.
	Source string `json:"source,omitempty"`
}

// LicenseAdmin reads the licence in force and puts a new key in force.
// Package license implements it (*license.State, as Config.License); the
// Manager wraps it (Manager.LicenseAdmin, AdminCore.License) with the
// audit and the announcement to the other instances, and the front ends
// call only that wrapper.
type LicenseAdmin interface {
	// LicenseInfo is the licence in force now.
	LicenseInfo() LicenseInfo
	// SetLicense verifies key and, when it is genuine and unexpired, stores
	// it and puts it in force; EINVALID (field "key") says why not, and a
	// refused key changes nothing. It returns the licence in force.
	SetLicense(ctx context.Context, key string) (LicenseInfo, error)
}

// ActionLicenseSet is the audit action of a new licence key.
const ActionLicenseSet = "license.set"

// LicenseAdmin is the licence admin the front ends call: Config.License,
// with a new key announced to the other instances (they re-read the stored
// key now, not at their daily check) and audited naming the actor in ctx
// (WithActor). nil when no licence is configured.
func (m *Manager) LicenseAdmin() LicenseAdmin {
	if m.cfg.License == nil {
		return nil
	}
	return &licenseAdmin{m: m, keys: m.cfg.License}
}

// licenseAdmin is the one place a licence change is announced and audited.
type licenseAdmin struct {
	m    *Manager
	keys LicenseAdmin
}

func (l *licenseAdmin) LicenseInfo() LicenseInfo { return l.keys.LicenseInfo() }

func (l *licenseAdmin) SetLicense(ctx context.Context, key string) (LicenseInfo, error) {
	info, err := l.keys.SetLicense(ctx, key)
	if err != nil {
		return info, err
	}
	l.m.AnnounceSettingsChange(ctx)
	// The key itself is a secret of the customer's: never in the log.
	l.m.auditAdmin(ctx, ActionLicenseSet, "", "", map[string]any{"edition": info.Licensed, "licenseId": info.ID})
	return info, nil
}
