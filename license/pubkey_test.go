//go:build !licensetest

package license_test

import (
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestEnvOverrideIgnoredInProduction: a production build trusts only the
// built-in vendor key, whatever SM_LICENSE_PUBLIC_KEY says.
func TestEnvOverrideIgnoredInProduction(t *testing.T) {
	s, info := loadWithEnvKey(t)
	if info.Status != license.StatusInvalid || s.Allows("geo") {
		t.Fatalf("a key from a self-made vendor key was accepted: %+v", info)
	}
}

// TestBuiltinKeyDefault: Options.PublicKey nil means the built-in key.
func TestBuiltinKeyDefault(t *testing.T) {
	if len(license.BuiltinPublicKey()) != 32 {
		t.Fatal("built-in key is not 32 bytes")
	}
	v, err := license.NewVerifier(license.BuiltinPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID() != license.KeyIDOf(license.BuiltinPublicKey()) {
		t.Fatal("key id")
	}
}
