package token

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustSecrets(t testing.TB, key []byte, old ...[]byte) *Secrets {
	t.Helper()
	s, err := NewSecrets(key, old...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseKey(t *testing.T) {
	raw := testKey(7)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"std padded", base64.StdEncoding.EncodeToString(raw), ""},
		{"std raw", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"url padded", base64.URLEncoding.EncodeToString(raw), ""},
		{"url raw", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"surrounding space", "  " + base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{"empty", "", "empty"},
		{"too short", base64.StdEncoding.EncodeToString(raw[:16]), "got 16"},
		{"too long", base64.StdEncoding.EncodeToString(append(raw, 1)), "got 33"},
		{"not base64", "this is not base64 at all!!", "not valid base64"},
		{"hex is not accepted", strings.Repeat("ab", 32), "got 48"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseKey(tt.in)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(key, raw) {
					t.Fatalf("ParseKey = %x, %v; want the key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("ParseKey err = %v; want EINVALID containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestGenerateKeyParses(t *testing.T) {
	a, err := ParseKey(GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParseKey(GenerateKey())
	if bytes.Equal(a, b) {
		t.Fatal("two generated keys are equal")
	}
}

func TestValidTokenShape(t *testing.T) {
	tok, _, _ := mustSecrets(t, testKey(1)).NewToken()
	tests := []struct {
		in   string
		want bool
	}{
		{tok, true},
		{strings.Repeat("A", 43), true},
		{strings.Repeat("_", 42) + "w", true},
		{"", false},
		{strings.Repeat("A", 42), false},
		{strings.Repeat("A", 44), false},
		{strings.Repeat("A", 42) + "=", false},
		{strings.Repeat("+", 43), false},       // std alphabet, not url
		{strings.Repeat("A", 42) + "B", false}, // stray low bits
		{strings.Repeat("A", 21) + " " + strings.Repeat("A", 21), false},
	}
	for _, tt := range tests {
		if got := ValidTokenShape(tt.in); got != tt.want {
			t.Errorf("ValidTokenShape(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNewSecretsRejectsBadKeys(t *testing.T) {
	if _, err := NewSecrets(testKey(1)[:31]); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("short key: err = %v", err)
	}
	if _, err := NewSecrets(testKey(1), testKey(2)[:5]); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("short old key: err = %v", err)
	}
	if _, err := NewSecrets(testKey(1), testKey(1)); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("duplicate key: err = %v", err)
	}
}

func TestNewTokenAndLookupHash(t *testing.T) {
	s := mustSecrets(t, testKey(1))
	tok, lookup, err := s.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !ValidTokenShape(tok) {
		t.Fatalf("token %q has not the token shape", tok)
	}
	if raw, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil || len(raw) != 32 {
		t.Fatalf("token decodes to %d bytes, %v", len(raw), err)
	}
	if !bytes.Equal(lookup, s.LookupHash(tok)) || len(lookup) != 32 {
		t.Fatal("NewToken's lookup differs from LookupHash")
	}
	if bytes.Contains(lookup, []byte(tok)) {
		t.Fatal("lookup hash contains the token")
	}
	tok2, lookup2, _ := s.NewToken()
	if tok2 == tok || bytes.Equal(lookup2, lookup) {
		t.Fatal("two tokens are equal")
	}
	if bytes.Equal(mustSecrets(t, testKey(2)).LookupHash(tok), lookup) {
		t.Fatal("lookup hash does not depend on the key")
	}
}

func TestLookupHashesAfterRotation(t *testing.T) {
	oldS := mustSecrets(t, testKey(1))
	tok, oldHash, _ := oldS.NewToken()
	rotated := mustSecrets(t, testKey(2), testKey(1))
	hashes := rotated.LookupHashes(tok)
	if len(hashes) != 2 {
		t.Fatalf("got %d hashes, want 2", len(hashes))
	}
	if !bytes.Equal(hashes[0], rotated.LookupHash(tok)) {
		t.Fatal("first hash is not the primary key's")
	}
	if !bytes.Equal(hashes[1], oldHash) {
		t.Fatal("old key's hash not offered as fallback")
	}
	if bytes.Equal(hashes[0], oldHash) {
		t.Fatal("primary hash should differ from the old key's")
	}
}

func TestSealOpen(t *testing.T) {
	s := mustSecrets(t, testKey(1))
	plain := []byte("refresh-token-value")
	aad := []byte("session-1")
	sealed, err := s.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed data contains the plaintext")
	}
	if len(sealed) != headerLen+len(plain)+tagLen || sealed[0] != sealVersion {
		t.Fatalf("sealed layout: len %d, version %d", len(sealed), sealed[0])
	}
	got, err := s.Open(sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := s.Seal(plain, aad)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals are equal: nonce reused")
	}
	empty, _ := s.Seal(nil, nil)
	if got, err := s.Open(empty, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty round trip: %q, %v", got, err)
	}
}

func TestOpenRejects(t *testing.T) {
	s := mustSecrets(t, testKey(1))
	aad := []byte("session-1")
	sealed, _ := s.Seal([]byte("secret"), aad)
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name   string
		sealed []byte
		aad    []byte
	}{
		{"wrong aad", sealed, []byte("session-2")},
		{"missing aad", sealed, nil},
		{"version", flip(0), aad},
		{"key id", flip(1), aad},
		{"nonce", flip(1 + keyIDLen), aad},
		{"ciphertext", flip(headerLen), aad},
		{"tag", flip(len(sealed) - 1), aad},
		{"truncated", sealed[:len(sealed)-1], aad},
		{"too short", sealed[:headerLen+tagLen-1], aad},
		{"empty", nil, aad},
		{"other key", mustSeal(t, mustSecrets(t, testKey(2)), aad), aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.Open(tt.sealed, tt.aad); err == nil || sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("Open = %q, %v; want EINVALID", got, err)
			}
		})
	}
}

func mustSeal(t *testing.T, s *Secrets, aad []byte) []byte {
	t.Helper()
	out, err := s.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSealKeyRotation(t *testing.T) {
	oldS := mustSecrets(t, testKey(1))
	oldSealed := mustSeal(t, oldS, nil)
	rotated := mustSecrets(t, testKey(2), testKey(1))
	if got, err := rotated.Open(oldSealed, nil); err != nil || string(got) != "secret" {
		t.Fatalf("old ciphertext after rotation: %q, %v", got, err)
	}
	newSealed := mustSeal(t, rotated, nil)
	if _, err := oldS.Open(newSealed, nil); err == nil {
		t.Fatal("new ciphertext opened with the old key alone: not sealed with the new key")
	}
	if got, err := mustSecrets(t, testKey(2)).Open(newSealed, nil); err != nil || string(got) != "secret" {
		t.Fatalf("new ciphertext with the new key: %q, %v", got, err)
	}
	if _, err := mustSecrets(t, testKey(2)).Open(oldSealed, nil); err == nil {
		t.Fatal("old ciphertext opened once the old key is dropped")
	}
}

// TestChainSignature: the audit chain's head signature binds seq, since
// and hash, needs the encryption key (its own HKDF sub-key, not the lookup
// key), and survives a key rotation.
func TestChainSignature(t *testing.T) {
	s := mustSecrets(t, testKey(1))
	head := &sm.ChainHead{Seq: 12, Since: 3, Hash: bytes.Repeat([]byte{9}, 32)}
	sig := s.SignChain(head.Message())
	if len(sig) != 32 || !s.VerifyChainSig(head.Message(), sig) {
		t.Fatalf("own signature refused: %x", sig)
	}
	other := func(change func(h *sm.ChainHead)) []byte {
		h := *head
		h.Hash = append([]byte(nil), head.Hash...)
		change(&h)
		return h.Message()
	}
	for name, ok := range map[string]bool{
		"another seq":   s.VerifyChainSig(other(func(h *sm.ChainHead) { h.Seq = 11 }), sig),
		"another since": s.VerifyChainSig(other(func(h *sm.ChainHead) { h.Since = 0 }), sig),
		"another hash":  s.VerifyChainSig(other(func(h *sm.ChainHead) { h.Hash[0] ^= 1 }), sig),
		"another key":   mustSecrets(t, testKey(2)).VerifyChainSig(head.Message(), sig),
		"empty sig":     s.VerifyChainSig(head.Message(), nil),
		"a lookup hash": s.VerifyChainSig(head.Message(), s.LookupHash(string(head.Message()))),
	} {
		if ok {
			t.Errorf("%s verifies", name)
		}
	}
	rotated := mustSecrets(t, testKey(2), testKey(1))
	if !rotated.VerifyChainSig(head.Message(), sig) {
		t.Error("a head signed before a key rotation no longer verifies")
	}
	if bytes.Equal(rotated.SignChain(head.Message()), sig) {
		t.Error("after rotation, heads are still signed with the old key")
	}
}
