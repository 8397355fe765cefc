package sessionmanager

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"regexp"
	"slices"
	"testing"
)

func TestRecoveryCodeShapeAndHash(t *testing.T) {
	m := &Manager{cfg: Config{Secrets: testSecrets{}}}
	shape := regexp.MustCompile(`^[a-km-np-z2-9]{5}-[a-km-np-z2-9]{5}$`)
	seen := map[string]bool{}
	for range 200 {
		c := newRecoveryCode()
		if !shape.MatchString(c) || seen[c] {
			t.Fatalf("recovery code %q: bad shape or repeated", c)
		}
		seen[c] = true
	}
	h := m.recoveryCodeHash("u-1", "abcde-fghij")
	for _, typed := range []string{"ABCDE-FGHIJ", " abcde fghij ", "abcdefghij"} {
		if !bytes.Equal(h, m.recoveryCodeHash("u-1", typed)) {
			t.Errorf("%q does not hash like abcde-fghij", typed)
		}
	}
	if bytes.Equal(h, m.recoveryCodeHash("u-2", "abcde-fghij")) {
		t.Error("the hash is not bound to the user")
	}
}

func TestStepUpAMR(t *testing.T) {
	for _, tt := range []struct{ had, want []string }{
		{[]string{"pwd"}, []string{"pwd", "otp", "mfa"}},
		{[]string{"pwd", "otp", "mfa"}, []string{"pwd", "otp", "mfa"}},
		{nil, []string{"otp"}},
	} {
		if got := stepUpAMR(tt.had, []string{AMROTP}); !slices.Equal(got, tt.want) {
			t.Errorf("stepUpAMR(%v) = %v, want %v", tt.had, got, tt.want)
		}
	}
}

// testSecrets keys lookup hashes with a fixed key (the recovery-code hash
// is all these tests need of Secrets).
type testSecrets struct{ Secrets }

func (testSecrets) LookupHash(token string) []byte {
	mac := hmac.New(sha256.New, []byte("test lookup key"))
	mac.Write([]byte(token))
	return mac.Sum(nil)
}
