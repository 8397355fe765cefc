// Package license holds the editions of Magic Session Manager (Free,
// Premium, Advanced) and their offline licence keys.
//
// A key is "MSM1." + base64url(JSON payload) + "." + base64url(Ed25519
// signature over the exact payload bytes), signed by the vendor's private
// key and checked against the public key built into the binary. Nothing
// here makes a network call.
//
// State is the one gate: Allows(feature) is an atomic load (and a clock
// read for paid features), cheap enough to be called on every login. When
// a licence expires, Premium and Advanced features lock and Free features
// keep working; no data is ever deleted, and a new key restores everything
// at once. See docs/LICENSING.md.
package license
