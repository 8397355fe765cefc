package token

import (
	"crypto/rand"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Sealed layout: version (1 byte) | key id (4) | nonce (12) | ciphertext+tag.
// The header is not in the GCM additional data, yet it is bound: another key
// id selects another key and a changed version is refused, so both fail.
const (
	sealVersion = 1
	keyIDLen    = 4
	nonceLen    = 12
	headerLen   = 1 + keyIDLen + nonceLen
	tagLen      = 16
)

// Seal encrypts plaintext with AES-256-GCM under the primary key, binding
// additionalData (e.g. the row id) so the ciphertext cannot be moved.
func (s *Secrets) Seal(plaintext, additionalData []byte) ([]byte, error) {
	k := s.keys[0]
	out := make([]byte, headerLen, headerLen+len(plaintext)+tagLen)
	out[0] = sealVersion
	copy(out[1:], k.id[:])
	nonce := out[1+keyIDLen : headerLen]
	rand.Read(nonce) // never fails: crypto/rand aborts the program instead
	return k.aead.Seal(out, nonce, plaintext, additionalData), nil
}

// Open decrypts what Seal made with any configured key. Malformed, tampered
// or foreign data, a wrong additionalData or an unknown key id are EINVALID.
func (s *Secrets) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < headerLen+tagLen {
		return nil, sm.Errorf(sm.EINVALID, "sealed data is too short")
	}
	if sealed[0] != sealVersion {
		return nil, sm.Errorf(sm.EINVALID, "sealed data has unknown version %d", sealed[0])
	}
	id := sealed[1 : 1+keyIDLen]
	for _, k := range s.keys {
		if string(k.id[:]) != string(id) {
			continue
		}
		plain, err := k.aead.Open(nil, sealed[1+keyIDLen:headerLen], sealed[headerLen:], additionalData)
		if err != nil {
			return nil, sm.Errorf(sm.EINVALID, "sealed data failed authentication")
		}
		return plain, nil
	}
	return nil, sm.Errorf(sm.EINVALID, "sealed data uses an unknown encryption key")
}
