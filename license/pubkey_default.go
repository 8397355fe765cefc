//go:build !licensetest

package license

import "crypto/ed25519"

// defaultPublicKey is the key a State trusts when Options.PublicKey is nil.
// Production builds trust only the built-in vendor key: no environment
// variable can swap it.
func defaultPublicKey() (ed25519.PublicKey, error) { return BuiltinPublicKey(), nil }
