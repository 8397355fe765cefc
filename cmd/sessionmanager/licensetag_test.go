//go:build licensetest

package main

import (
	"crypto/ed25519"
	"os"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// vendorKey signs the test licences; this licensetest build trusts its
// public half through SM_LICENSE_PUBLIC_KEY (a production build never does).
var vendorKey ed25519.PrivateKey

func init() {
	pub, priv := license.GenerateVendorKey()
	os.Setenv(license.PublicKeyEnv, license.EncodePublicKey(pub))
	vendorKey = priv
}

// testLicense issues a licence of the edition valid for a day.
func testLicense(t testing.TB, edition license.Edition) string {
	t.Helper()
	key, err := license.Issue(vendorKey, license.Licence{ID: "test", Licensee: "Test Ltd", Edition: edition,
		IssuedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return key
}
