package main

import (
	"strings"
	"testing"
)

// TestLoadPasskeys: the relying party comes from SM_WEBAUTHN_* or else
// SM_PUBLIC_URL; an explicit value that cannot work stops the start, a
// public URL that cannot serve passkeys turns them off with the reason.
func TestLoadPasskeys(t *testing.T) {
	cases := []struct {
		name      string
		env       map[string]string
		publicURL string
		rpID      string
		origins   string
		off       string // a substring of the reason passkeys are off
		err       string // a substring of the configuration error
	}{
		{name: "from the public URL", publicURL: "https://auth.example.com/base", rpID: "auth.example.com", origins: "https://auth.example.com"},
		{name: "localhost over http", publicURL: "http://localhost:8080", rpID: "localhost", origins: "http://localhost:8080"},
		{name: "explicit", env: map[string]string{"SM_WEBAUTHN_RP_ID": "example.com", "SM_WEBAUTHN_ORIGINS": "https://app.example.com, https://example.com/"},
			publicURL: "https://auth.example.com", rpID: "example.com", origins: "https://app.example.com,https://example.com"},
		{name: "RP ID only: origin from the public URL", env: map[string]string{"SM_WEBAUTHN_RP_ID": "example.com"}, publicURL: "https://auth.example.com",
			rpID: "example.com", origins: "https://auth.example.com"},
		{name: "nothing set", off: "set SM_PUBLIC_URL"},
		{name: "turned off", env: map[string]string{"SM_WEBAUTHN_RP_ID": "off"}, publicURL: "https://auth.example.com"},
		{name: "public URL is an address", publicURL: "http://127.0.0.1:8080", off: "IP address"},
		{name: "public URL plain http", publicURL: "http://auth.example.com", off: "must be https"},
		{name: "explicit IP RP ID", env: map[string]string{"SM_WEBAUTHN_RP_ID": "10.0.0.1", "SM_WEBAUTHN_ORIGINS": "https://10.0.0.1"}, err: "domain name"},
		{name: "origin off the RP ID", env: map[string]string{"SM_WEBAUTHN_RP_ID": "example.com", "SM_WEBAUTHN_ORIGINS": "https://evil.test"}, err: "not on the relying party"},
		{name: "origin with a path", env: map[string]string{"SM_WEBAUTHN_RP_ID": "example.com", "SM_WEBAUTHN_ORIGINS": "https://example.com/app"}, err: "scheme://host"},
		{name: "explicit http origin", env: map[string]string{"SM_WEBAUTHN_ORIGINS": "http://example.com"}, err: "must be https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadPasskeys(func(k string) string { return tc.env[k] }, tc.publicURL)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "SM_WEBAUTHN") {
					t.Fatalf("error %v, want one naming SM_WEBAUTHN_* and %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.off != "" || tc.rpID == "" {
				if got.Config != nil || !strings.Contains(got.Off, tc.off) {
					t.Fatalf("want off (%q), got %+v", tc.off, got)
				}
				return
			}
			if got.Config == nil || got.Config.RPID != tc.rpID || strings.Join(got.Config.Origins, ",") != tc.origins {
				t.Fatalf("got %+v %q, want %s %s", got.Config, got.Off, tc.rpID, tc.origins)
			}
		})
	}
}
