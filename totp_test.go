package sessionmanager

import (
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1 rows (8 digits; the 6-digit code is the tail).
func TestTOTPRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	tests := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		if got := hotp(key, uint64(tt.unix/totpStep), 8); got != tt.want {
			t.Errorf("T=%d: hotp = %s, want %s", tt.unix, got, tt.want)
		}
		if got := hotp(key, uint64(tt.unix/totpStep), 6); got != tt.want[2:] {
			t.Errorf("T=%d: 6 digits = %s, want %s", tt.unix, got, tt.want[2:])
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	key := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := hotp(key, uint64(now.Unix()/totpStep), 6)
	prev := hotp(key, uint64(now.Unix()/totpStep-1), 6)
	old := hotp(key, uint64(now.Unix()/totpStep-3), 6)
	tests := []struct {
		name string
		code string
		ok   bool
	}{
		{"current step", cur, true},
		{"previous step (drift)", prev, true},
		{"spaces allowed", cur[:3] + " " + cur[3:], true},
		{"three steps old", old, false},
		{"wrong length", "12345", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := verifyTOTP(key, tt.code, now); ok != tt.ok {
				t.Errorf("verifyTOTP(%q) = %v, want %v", tt.code, ok, tt.ok)
			}
		})
	}
}

func TestDecodeTOTPSecret(t *testing.T) {
	if _, err := decodeTOTPSecret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"); err != nil {
		t.Errorf("valid secret refused: %v", err)
	}
	for _, bad := range []string{"", "not base32!", "GEZDG"} {
		if _, err := decodeTOTPSecret(bad); err == nil {
			t.Errorf("decodeTOTPSecret(%q) accepted", bad)
		}
	}
}

func TestTOTPURIAndNewSecret(t *testing.T) {
	a, b := NewTOTPSecret(), NewTOTPSecret()
	if a == b || len(a) != 32 {
		t.Fatalf("secrets %q %q: want two different 160-bit base32 secrets", a, b)
	}
	if _, err := decodeTOTPSecret(a); err != nil {
		t.Fatal(err)
	}
	uri := TOTPURI("Acme & Co", "ann@example.com", a)
	want := "otpauth://totp/Acme%20&%20Co:ann@example.com?algorithm=SHA1&digits=6&issuer=Acme+%26+Co&period=30&secret=" + a
	if uri != want {
		t.Fatalf("TOTPURI = %q, want %q", uri, want)
	}
}
