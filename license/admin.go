package license

import (
	"context"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The State is the core's licence admin (sm.Config.License): the Manager
// wraps it with the audit and the announcement to the other instances.
var _ sm.LicenseAdmin = (*State)(nil)

// LicenseInfo is Info as the core and the admin API see it.
func (s *State) LicenseInfo() sm.LicenseInfo { return s.Info().core() }

// SetLicense is Set for the core: the licence in force afterwards, and
// why a key was refused.
func (s *State) SetLicense(ctx context.Context, key string) (sm.LicenseInfo, error) {
	in, err := s.Set(ctx, key)
	return in.core(), err
}

// core is in as the root package's type (the same JSON).
func (in Info) core() sm.LicenseInfo {
	return sm.LicenseInfo{
		Edition: string(in.Edition), Licensed: string(in.Licensed), Status: string(in.Status),
		Licensee: in.Licensee, ID: in.ID, Seats: in.Seats, Instances: in.Instances,
		IssuedAt: in.IssuedAt, ExpiresAt: in.ExpiresAt, DaysLeft: in.DaysLeft, Features: in.Features,
		Notice: in.Notice, Warning: in.Warning, Demo: in.Demo, Source: in.Source,
	}
}
