package license

import (
	"context"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The State is the core's licence admin (sm.Config.License): the Manager
// wraps it with the audit and the announcement to the other instances.
var _ sm.LicenseAdmin = (*State)(nil)

// LicenseInfo is the licence in force (Info).
func (s *State) LicenseInfo() sm.LicenseInfo { return s.Info() }

// SetLicense is Set for the core: the licence in force afterwards, and
// why a key was refused.
func (s *State) SetLicense(ctx context.Context, key string) (sm.LicenseInfo, error) {
	return s.Set(ctx, key)
}
