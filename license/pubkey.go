package license

import (
	"crypto/ed25519"
	"encoding/base64"
)

// vendorPublicKey is the vendor's Ed25519 public key (base64). Only the
// public half lives in the source; the private key signs keys offline.
const vendorPublicKey = "avlh22NGY6Blegg6pGMLjMXkH23R48qjd6wMczQlyys="

// PublicKeyEnv names the public key override (base64), read ONLY by
// binaries built with -tags licensetest.
const PublicKeyEnv = "SM_LICENSE_PUBLIC_KEY"

// BuiltinPublicKey returns the vendor public key built into this binary.
func BuiltinPublicKey() ed25519.PublicKey {
	b, err := base64.StdEncoding.DecodeString(vendorPublicKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		panic("license: the built-in vendor public key is corrupt") // a build defect, not input
	}
	return b
}

// decodePublicKey reads a base64 (standard or URL, padded or not) public key.
func decodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := decodeBase64(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errBadPublicKey
	}
	return b, nil
}
