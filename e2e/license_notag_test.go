//go:build !licensetest

package e2e

import (
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testlicense"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// buildTags: without licensetest the server trusts only the real vendor key.
const buildTags = ""

func licenseEnv() map[string]string { return nil }

// testLicense needs a build that trusts a test vendor key.
func testLicense(t testing.TB, _ license.Edition) string {
	testlicense.Unavailable(t)
	return ""
}
