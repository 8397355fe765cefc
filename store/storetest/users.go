package storetest

import (
	"testing"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var userTests = []namedTest{}

func init() {
	userTests = append(userTests, namedTest{"CreateAndRead", testUserCreateRead})
}

func testUserCreateRead(t *testing.T, s sessionmanager.FullStore) {
	t.Helper()
}
