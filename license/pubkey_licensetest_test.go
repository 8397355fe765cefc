//go:build licensetest

package license_test

import (
	"context"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestEnvOverrideInLicensetestBuild: a -tags licensetest binary trusts
// SM_LICENSE_PUBLIC_KEY, so end-to-end tests issue their own keys.
func TestEnvOverrideInLicensetestBuild(t *testing.T) {
	s, info := loadWithEnvKey(t)
	if info.Status != license.StatusActive || !s.Allows("threat") {
		t.Fatalf("override not used: %+v", info)
	}
	t.Setenv(license.PublicKeyEnv, "not base64!")
	if _, err := license.New(license.Options{Logger: quietLogger()}); err == nil {
		t.Fatal("a malformed override was accepted")
	}
	t.Setenv(license.PublicKeyEnv, "")
	s, err := license.New(license.Options{Logger: quietLogger(), Key: newVendor().issue(t, license.EditionAdvanced, t0, t0.AddDate(50, 0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Load(context.Background()); info.Status != license.StatusInvalid {
		t.Fatalf("unset override did not fall back to the built-in key: %+v", info)
	}
}
