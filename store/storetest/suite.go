// Package storetest is the one conformance suite of sessionmanager stores.
// Every store (store/sqlite, store/postgres) runs it, so both keep the same
// contract: the doc comments of the root package's store interfaces.
package storetest

import (
	"testing"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// Opener returns a fresh, migrated, empty store for one subtest.
type Opener func(t *testing.T) sessionmanager.FullStore

// Run runs the whole conformance suite; open returns a fresh, migrated, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) sessionmanager.FullStore) {
	groups := []struct {
		name  string
		tests []namedTest
	}{
		{"Users", userTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
}

// namedTest is one subtest of the suite; it gets its own fresh store.
type namedTest struct {
	name string
	run  func(t *testing.T, s sessionmanager.FullStore)
}
