// Package storetest is the one conformance suite of sessionmanager stores.
// Every store (store/sqlite, store/postgres) runs it, so both keep the same
// contract: the doc comments of the root package's store interfaces, plus
// these conventions the interfaces leave open:
//
//   - Callers set string ids; the store assigns Event.Seq (1, 2, ...) and
//     Delivery.ID. Times keep microseconds and come back in UTC; the zero
//     time is "unset" (NULL).
//   - Missing rows are ENOTFOUND (also for an empty identifier or external
//     id); duplicates (email/username case-insensitive, ids, hashes) are
//     ECONFLICT; a cursor the store did not make is EINVALID.
//   - String filters are data, never SQL: metacharacters (' " ; -- % _ \)
//     neither error nor match anything but themselves.
//   - RotateRefreshToken conflicts unless OldHash is the current token of
//     SessionID and the session is not ended.
//   - SweepStale ends idle, then expired sessions, then marks the remaining
//     stale active ones inactive: a session it ends is not "inactivated".
//   - TouchSessions ignores unknown and ended sessions without an error;
//     so does AppendTrail, whose trail is ordered by entry time.
//   - A magic link is expired from its ExpiresAt instant on; so is a
//     passkey ceremony.
//   - A delivery appended without times is created at the event's time and
//     due at once; ClaimDeliveries returns the oldest due first.
//   - EraseUser clears the whole Location of the user's sessions and
//     deletes the user's TOTP and recovery codes.
//   - A TOTP enrolment or recovery code of a user that does not exist is
//     ENOTFOUND.
//   - A challenge is expired from its ExpiresAt instant on;
//     PurgeChallenges keeps one expiring exactly at the cutoff.
//   - The signed chain head (ChainHeadStore) is written in the append's
//     transaction and appends link to it; RunChain checks it against a
//     database writer.
//
// The suite uses fixed times (no wall clock) and only the standard library.
package storetest

import (
	"testing"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// Store is everything a complete store implements: every role interface
// of the root package. The suite checks all of it; the Manager itself asks
// only for sessionmanager.Store and the optional roles it uses.
type Store interface {
	sessionmanager.Store
	sessionmanager.OutboxStore
	sessionmanager.KeyStore
	sessionmanager.AdminStore
	sessionmanager.AdminSessionStore
	sessionmanager.MagicLinkStore
	sessionmanager.StatsStore
	sessionmanager.PrivacyStore
	sessionmanager.PasskeyStore
	sessionmanager.TOTPStore
	sessionmanager.TrustedDeviceStore
	sessionmanager.ChallengeStore
	sessionmanager.SessionAuthStore
	sessionmanager.TeamStore
	sessionmanager.RecoveryCodeStore
	sessionmanager.BulkLoader
}

// Run runs the whole conformance suite; open returns a fresh, migrated, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) Store) {
	groups := []struct {
		name  string
		tests []namedTest
	}{
		{"Users", userTests},
		{"Sessions", sessionTests},
		{"Bulk", bulkTests},
		{"SessionList", sessionListTests},
		{"Trail", trailTests},
		{"Concurrency", concurrencyTests},
		{"Events", eventTests},
		{"Outbox", outboxTests},
		{"Settings", settingsTests},
		{"Keys", keyTests},
		{"Admins", adminTests},
		{"MagicLinks", magicLinkTests},
		{"Stats", statsTests},
		{"Privacy", privacyTests},
		{"Passkeys", passkeyTests},
		{"Trust", trustTests},
		{"Challenges", challengeTests},
		{"TOTP", totpTests},
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
	run  func(t *testing.T, s Store)
}
