// Package password hashes and checks passwords with argon2id
// (sessionmanager.PasswordHasher) and holds the password policy.
//
// Hashes are PHC strings, $argon2id$v=19$m=19456,t=2,p=1$salt$hash, so the
// parameters travel with each hash: they can be raised later, old hashes
// still verify, and NeedsRehash says when to re-hash at the next login.
package password
