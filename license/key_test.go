package license_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	v := newVendor()
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	key, err := license.Issue(v.priv, license.Licence{ID: "lic-42", Licensee: "Acme GmbH", Edition: license.EditionPremium, Seats: 25, Instances: 3, IssuedAt: t0, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, license.KeyPrefix) || strings.Count(key, ".") != 2 {
		t.Fatalf("key %q is not MSM1.payload.signature", key)
	}
	ver, err := license.NewVerifier(v.pub)
	if err != nil {
		t.Fatal(err)
	}
	// A key wrapped over lines by a mail client still reads.
	wrapped := key[:20] + "\n  " + key[20:40] + "\r\n" + key[40:] + " "
	lic, err := ver.Verify(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	want := license.Licence{ID: "lic-42", KeyID: license.KeyIDOf(v.pub), Licensee: "Acme GmbH", Edition: license.EditionPremium,
		Seats: 25, Instances: 3, IssuedAt: t0, ExpiresAt: exp}
	if lic != want {
		t.Fatalf("got %+v\nwant %+v", lic, want)
	}
}

// editPayload rewrites the payload of key, keeping its signature.
func editPayload(t *testing.T, key string, edit func(string) string) string {
	t.Helper()
	parts := strings.Split(key, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(edit(string(b))))
	return strings.Join(parts, ".")
}

// flipSignatureBit changes one bit of the signature of key.
func flipSignatureBit(t *testing.T, key string) string {
	t.Helper()
	parts := strings.Split(key, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 0x80
	parts[2] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestVerifyRejects(t *testing.T) {
	v, other := newVendor(), newVendor()
	good := v.issue(t, license.EditionPremium, t0, t0.AddDate(1, 0, 0))
	ver, _ := license.NewVerifier(v.pub)

	// A key claiming our key id but signed by another vendor key.
	impostor, err := license.Issue(other.priv, license.Licence{KeyID: license.KeyIDOf(v.pub), Licensee: "Mallory", Edition: license.EditionAdvanced, IssuedAt: t0, ExpiresAt: t0.AddDate(5, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, key, reason, contains string
	}{
		{"payload byte changed", editPayload(t, good, func(p string) string { return strings.Replace(p, "Acme GmbH", "Acme GmbI", 1) }), "license_signature", "signature is not valid"},
		{"edition raised in payload", editPayload(t, good, func(p string) string { return strings.Replace(p, `"premium"`, `"advanced"`, 1) }), "license_signature", "signature is not valid"},
		{"expiry extended in payload", editPayload(t, good, func(p string) string { return strings.Replace(p, `"exp":1`, `"exp":2`, 1) }), "license_signature", "signature is not valid"},
		{"signature byte changed", flipSignatureBit(t, good), "license_signature", "signature is not valid"},
		{"another vendor key", other.issue(t, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0)), "license_wrong_vendor", "another vendor key"},
		{"another vendor key claiming ours", impostor, "license_signature", "signature is not valid"},
		{"empty", "  ", "license_malformed", "empty"},
		{"wrong prefix", "MSM2." + strings.TrimPrefix(good, "MSM1."), "license_malformed", `start with "MSM1."`},
		{"missing signature", strings.Join(strings.Split(good, ".")[:2], "."), "license_malformed", "signature"},
		{"extra part", good + ".AAAA", "license_malformed", "expected"},
		{"payload not base64", "MSM1.!!!." + strings.Split(good, ".")[2], "license_malformed", "payload is not base64url"},
		{"short signature", strings.Join(strings.Split(good, ".")[:2], ".") + ".AAAA", "license_malformed", "signature has 3 bytes"},
		{"payload not JSON", "MSM1." + base64.RawURLEncoding.EncodeToString([]byte("hello")) + "." + strings.Split(good, ".")[2], "license_malformed", "not JSON"},
		{"too long", "MSM1." + strings.Repeat("A", 10000), "license_malformed", "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ver.Verify(c.key)
			if err == nil {
				t.Fatal("accepted")
			}
			if sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("code %q, want invalid: %v", sm.ErrorCode(err), err)
			}
			var e *sm.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *sm.Error: %v", err)
			}
			if c.reason != "" && e.Reason != c.reason {
				t.Fatalf("reason %q, want %q (%v)", e.Reason, c.reason, err)
			}
			if !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("error %q does not say %q", err, c.contains)
			}
		})
	}
}

func TestPayloadFieldsChecked(t *testing.T) {
	v := newVendor()
	ver, _ := license.NewVerifier(v.pub)
	// A correctly signed payload with bad fields is still rejected.
	cases := map[string]string{
		"version":         `{"v":2,"id":"a","kid":"K","licensee":"x","edition":"free","iat":1,"exp":2}`,
		"edition":         `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"gold","iat":1,"exp":2}`,
		"licensee":        `{"v":1,"id":"a","kid":"K","licensee":" ","edition":"free","iat":1,"exp":2}`,
		"exp before iat":  `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"free","iat":5,"exp":2}`,
		"negative seats":  `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"free","seats":-1,"iat":1,"exp":2}`,
		"no expiry":       `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"free","iat":1}`,
		"trailing data":   `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"free","iat":1,"exp":2} {}`,
		"huge expiry":     `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"free","iat":1,"exp":9223372036854775807}`,
		"wrong type seat": `{"v":1,"id":"a","kid":"K","licensee":"x","edition":"free","seats":"many","iat":1,"exp":2}`,
	}
	for name, js := range cases {
		t.Run(name, func(t *testing.T) {
			js = strings.ReplaceAll(js, `"K"`, `"`+license.KeyIDOf(v.pub)+`"`)
			key := license.KeyPrefix + base64.RawURLEncoding.EncodeToString([]byte(js)) + "." +
				base64.RawURLEncoding.EncodeToString(ed25519.Sign(v.priv, []byte(js)))
			if _, err := ver.Verify(key); err == nil || !strings.Contains(err.Error(), "malformed") {
				t.Fatalf("want malformed, got %v", err)
			}
		})
	}
}

func TestIssueValidates(t *testing.T) {
	v := newVendor()
	bad := []license.Licence{
		{Edition: license.EditionPremium, ExpiresAt: t0.AddDate(1, 0, 0)},                                       // no licensee
		{Licensee: "x", Edition: "gold", ExpiresAt: t0.AddDate(1, 0, 0)},                                        // edition
		{Licensee: "x", Edition: license.EditionPremium},                                                        // no expiry
		{Licensee: "x", Edition: license.EditionPremium, IssuedAt: t0, ExpiresAt: t0.Add(-time.Hour)},           // backwards
		{Licensee: "x", Edition: license.EditionPremium, Seats: -3, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}, // seats
	}
	for i, l := range bad {
		if _, err := license.Issue(v.priv, l); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("case %d: want EINVALID, got %v", i, err)
		}
	}
	if _, err := license.Issue(nil, license.Licence{Licensee: "x", Edition: license.EditionFree, ExpiresAt: t0}); err == nil {
		t.Error("nil key accepted")
	}
}

func TestParseEdition(t *testing.T) {
	for in, want := range map[string]license.Edition{"free": license.EditionFree, " Premium ": license.EditionPremium, "ADVANCED": license.EditionAdvanced} {
		if got, err := license.ParseEdition(in); err != nil || got != want {
			t.Errorf("ParseEdition(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := license.ParseEdition("enterprise"); err == nil {
		t.Error("enterprise accepted")
	}
}
