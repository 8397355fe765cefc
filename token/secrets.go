package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// HKDF info strings: each sub-key has its own purpose, so the lookup key,
// the sealing key and the key id never reveal one another.
const (
	infoLookup = "magic-sessionmanager lookup hmac-sha256 v1"
	infoSeal   = "magic-sessionmanager seal aes-256-gcm v1"
	infoKeyID  = "magic-sessionmanager key id v1"
	infoChain  = "magic-sessionmanager audit chain hmac-sha256 v1"
)

// Secrets implements sessionmanager.Secrets with keys derived from
// SESSION_ENCRYPTION_KEY by HKDF-SHA256.
//
// Key rotation: pass the new key first and the old ones after. Seal always
// uses the first (primary) key; Open picks the key by the id in the sealed
// header, so old ciphertexts still open. LookupHash always uses the primary
// key, so a hash is stable for as long as the primary key is; after a
// rotation, hashes stored under an old key are found with LookupHashes
// (primary first, then each old key). Refresh tokens get a primary-key hash
// on their next rotation; long-lived hashes (admin tokens) need the fallback
// lookup until they are reissued.
type Secrets struct {
	keys []*secretKey // primary first
}

var (
	_ sm.Secrets     = (*Secrets)(nil)
	_ sm.ChainSigner = (*Secrets)(nil)
)

// secretKey is the material derived from one encryption key.
type secretKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
	// chains pools HMAC states under the key that signs the audit chain's
	// head and checkpoints (one per append).
	chains sync.Pool
	// macs pools keyed HMAC states: hmac.New costs several allocations.
	macs sync.Pool
}

// NewSecrets derives the sub-keys of key (the primary) and of oldKeys (still
// accepted by Open and LookupHashes). Every key must be 32 bytes.
func NewSecrets(key []byte, oldKeys ...[]byte) (*Secrets, error) {
	all := append([][]byte{key}, oldKeys...)
	s := &Secrets{keys: make([]*secretKey, 0, len(all))}
	for i, raw := range all {
		if len(raw) != KeySize {
			return nil, sm.Errorf(sm.EINVALID, "encryption key %d must be %d bytes, got %d", i, KeySize, len(raw))
		}
		k, err := deriveKey(raw)
		if err != nil {
			return nil, err
		}
		for _, prev := range s.keys {
			if prev.id == k.id {
				return nil, sm.Errorf(sm.EINVALID, "encryption key %d is given twice", i)
			}
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

func deriveKey(raw []byte) (*secretKey, error) {
	lookupKey, err := hkdf.Key(sha256.New, raw, nil, infoLookup, 32)
	if err != nil {
		return nil, err
	}
	sealKey, err := hkdf.Key(sha256.New, raw, nil, infoSeal, 32)
	if err != nil {
		return nil, err
	}
	id, err := hkdf.Key(sha256.New, raw, nil, infoKeyID, keyIDLen)
	if err != nil {
		return nil, err
	}
	chainKey, err := hkdf.Key(sha256.New, raw, nil, infoChain, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &secretKey{aead: aead}
	copy(k.id[:], id)
	k.macs.New = func() any { return hmac.New(sha256.New, lookupKey) }
	k.chains.New = func() any { return hmac.New(sha256.New, chainKey) }
	return k, nil
}

// NewToken returns 32 random bytes in unpadded base64url (43 characters)
// and the token's lookup hash under the primary key.
func (s *Secrets) NewToken() (string, []byte, error) {
	var raw [32]byte
	rand.Read(raw[:]) // never fails: crypto/rand aborts the program instead
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	return token, s.LookupHash(token), nil
}

// ValidToken is ValidTokenShape (sessionmanager.Secrets).
func (s *Secrets) ValidToken(t string) bool { return ValidTokenShape(t) }

// LookupHash is the HMAC-SHA256 of token under the primary key's lookup key.
func (s *Secrets) LookupHash(token string) []byte {
	return s.keys[0].lookupHash(token)
}

// LookupHashes returns the lookup hash of token under every key, primary
// first: the candidates to look up after an encryption-key rotation.
func (s *Secrets) LookupHashes(token string) [][]byte {
	out := make([][]byte, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.lookupHash(token)
	}
	return out
}

func (k *secretKey) lookupHash(token string) []byte {
	mac := k.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token))
	sum := mac.Sum(make([]byte, 0, sha256.Size))
	k.macs.Put(mac)
	return sum
}

// SignChain signs an audit chain position (sessionmanager.ChainHead.Message)
// with HMAC-SHA256 under the primary key's chain key.
func (s *Secrets) SignChain(message []byte) []byte {
	return s.keys[0].signChain(message)
}

// VerifyChainSig reports whether sig signs message under any key (primary
// first), comparing in constant time. Keep retired keys in the old keys for
// as long as heads and checkpoints they signed must verify.
func (s *Secrets) VerifyChainSig(message, sig []byte) bool {
	ok := false
	for _, k := range s.keys {
		ok = hmac.Equal(k.signChain(message), sig) || ok
	}
	return ok
}

func (k *secretKey) signChain(message []byte) []byte {
	mac := k.chains.Get().(hash.Hash)
	mac.Reset()
	mac.Write(message)
	sum := mac.Sum(make([]byte, 0, sha256.Size))
	k.chains.Put(mac)
	return sum
}
