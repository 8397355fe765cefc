//go:build licensetest

package main

import (
	"os"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testlicense"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// This licensetest build trusts the test vendor key through
// SM_LICENSE_PUBLIC_KEY (a production build never does).
func init() {
	for k, v := range testlicense.Env() {
		os.Setenv(k, v)
	}
}

// testLicense issues a licence of the edition valid for a day.
func testLicense(t testing.TB, edition license.Edition) string {
	t.Helper()
	return testlicense.Issue(t, edition)
}
