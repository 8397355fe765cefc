//go:build licensetest

package license

import (
	"crypto/ed25519"
	"os"
	"strings"
)

// defaultPublicKey is the key a State trusts when Options.PublicKey is nil.
// This file is built only with -tags licensetest: such a binary trusts
// SM_LICENSE_PUBLIC_KEY (base64) when it is set, so end-to-end tests can
// issue their own keys. Never ship a licensetest build.
func defaultPublicKey() (ed25519.PublicKey, error) {
	s := strings.TrimSpace(os.Getenv(PublicKeyEnv))
	if s == "" {
		return BuiltinPublicKey(), nil
	}
	return decodePublicKey(s)
}
