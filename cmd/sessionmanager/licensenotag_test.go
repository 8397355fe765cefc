//go:build !licensetest

package main

import (
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// testLicense needs a build that trusts a test vendor key.
func testLicense(t testing.TB, edition license.Edition) string {
	t.Helper()
	const msg = "this test needs paid features: run it with -tags licensetest (make test does)"
	if testenv.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
