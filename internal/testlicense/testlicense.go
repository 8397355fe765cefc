// Package testlicense issues licences for tests, signed by a vendor key made
// for this test process; only a server built with -tags licensetest trusts
// it, through SM_LICENSE_PUBLIC_KEY (a production build never does).
package testlicense

import (
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

var vendorPublic, vendorKey = license.GenerateVendorKey()

// Env is the variable that makes a licensetest build trust the test vendor key.
func Env() map[string]string {
	return map[string]string{license.PublicKeyEnv: license.EncodePublicKey(vendorPublic)}
}

// Issue returns a licence of the edition valid for a day.
func Issue(t testing.TB, edition license.Edition) string {
	t.Helper()
	key, err := license.Issue(vendorKey, license.Licence{ID: "test", Licensee: "Test Ltd", Edition: edition,
		IssuedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// Unavailable ends a test that needs paid features in a build without
// -tags licensetest: a skip, or a failure where services are required.
func Unavailable(t testing.TB) {
	t.Helper()
	const msg = "this test needs paid features: run it with -tags licensetest (make test does)"
	if testenv.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
