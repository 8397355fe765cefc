//go:build licensetest

package e2e

import (
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testlicense"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// buildTags are the tags the server binary is built with: licensetest
// makes it trust the test vendor key of SM_LICENSE_PUBLIC_KEY.
const buildTags = "licensetest"

// licenseEnv makes the server trust the test vendor key.
func licenseEnv() map[string]string { return testlicense.Env() }

// testLicense issues a licence of the edition valid for a day.
func testLicense(t testing.TB, edition license.Edition) string {
	t.Helper()
	return testlicense.Issue(t, edition)
}
