// Package token implements the token services of the root package:
// sessionmanager.Secrets (opaque tokens, HMAC-SHA256 lookup hashes,
// AES-256-GCM sealing with key ids, all derived from SESSION_ENCRYPTION_KEY)
// and sessionmanager.AccessTokens (EdDSA JWT access tokens signed by a
// Keyring of Ed25519 keys kept sealed in a sessionmanager.KeyStore, published
// as a JWKS and rotated without breaking live tokens). A Rotator replaces
// the signing key on a schedule (run it on one instance: the leader) and
// Keyring.Watch keeps every instance's keys current after a rotation.
//
// Offline verifiers that cache the JWKS (ServeJWKS allows 5 minutes) should
// refetch it when they meet an unknown kid: a rotated-in key signs at once.
package token
