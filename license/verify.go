package license

import (
	"crypto/ed25519"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Verifier checks keys against one vendor public key.
type Verifier struct {
	pub   ed25519.PublicKey
	keyID string
}

// NewVerifier returns a Verifier for pub; tests pass their own key here.
func NewVerifier(pub ed25519.PublicKey) (*Verifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, sm.Errorf(sm.EINVALID, "licence public key has %d bytes, not %d", len(pub), ed25519.PublicKeySize)
	}
	return &Verifier{pub: append(ed25519.PublicKey{}, pub...), keyID: KeyIDOf(pub)}, nil
}

// KeyID is the id of the verifier's public key.
func (v *Verifier) KeyID() string { return v.keyID }

// Verify parses key and checks its signature. It does not check expiry:
// an expired key is still a genuine one (State decides what it unlocks).
func (v *Verifier) Verify(key string) (Licence, error) {
	p, err := parse(key)
	if err != nil {
		return Licence{}, err
	}
	if p.lic.KeyID != v.keyID {
		e := sm.Errorf(sm.EINVALID, "licence key was signed by another vendor key (%s, this build trusts %s)", p.lic.KeyID, v.keyID)
		e.Reason = "license_wrong_vendor"
		return Licence{}, e
	}
	if !ed25519.Verify(v.pub, p.payload, p.sig) {
		e := sm.Errorf(sm.EINVALID, "licence key signature is not valid (the key was altered or not issued by the vendor)")
		e.Reason = "license_signature"
		return Licence{}, e
	}
	return p.lic, nil
}

// Parse reads a key WITHOUT checking its signature, to show what it says.
// Never trust its answer: use a Verifier.
func Parse(key string) (Licence, error) {
	p, err := parse(key)
	if err != nil {
		return Licence{}, err
	}
	return p.lic, nil
}
