package license_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

func TestIssueAndShowCommands(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "vendor.key")
	var pubOut, errOut bytes.Buffer
	if err := license.KeygenCommand([]string{"--out", keyFile}, &pubOut, &errOut); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	if err := license.KeygenCommand([]string{"--out", keyFile}, &pubOut, &errOut); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}
	pub := strings.TrimSpace(pubOut.String())

	var stdout, stderr bytes.Buffer
	err := license.IssueCommand([]string{"--key", keyFile, "--licensee", "Acme GmbH", "--edition", "Advanced", "--expires", "2099-01-01", "--seats", "40"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	key := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(key, license.KeyPrefix) || !strings.Contains(stderr.String(), "Acme GmbH") {
		t.Fatalf("stdout %q stderr %q", key, stderr.String())
	}

	var shown bytes.Buffer
	if err := license.ShowCommand([]string{"--public-key", pub, key}, &shown); err != nil {
		t.Fatalf("%v\n%s", err, shown.String())
	}
	for _, want := range []string{"licensee:   Acme GmbH", "edition:    Advanced", "seats:      40", "expires:    2099-01-01T00:00:00Z", "signature:  valid", "status:     active"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, shown.String())
		}
	}
	// The built-in vendor key did not sign it: show says so and fails.
	shown.Reset()
	if err := license.ShowCommand([]string{key}, &shown); err == nil || !strings.Contains(shown.String(), "NOT VALID") {
		t.Fatalf("show with the built-in key: %v\n%s", err, shown.String())
	}
	if err := license.ShowCommand([]string{"MSM1.x.y"}, &shown); err == nil {
		t.Fatal("show accepted a malformed key")
	}
}

func TestIssueCommandErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	err := license.IssueCommand([]string{"--edition", "premium"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--key, --licensee, --expires") {
		t.Fatalf("missing flags: %v", err)
	}
	keyFile := filepath.Join(t.TempDir(), "k")
	_, priv := license.GenerateVendorKey()
	os.WriteFile(keyFile, []byte(license.EncodePrivateKey(priv)), 0o600)
	for _, args := range [][]string{
		{"--key", keyFile, "--licensee", "A", "--edition", "gold", "--expires", "2099-01-01"},
		{"--key", keyFile, "--licensee", "A", "--edition", "free", "--expires", "next year"},
		{"--key", keyFile, "--licensee", "A", "--edition", "free", "--expires", "2000-01-01", "--issued", "2001-01-01"},
		{"--key", filepath.Join(t.TempDir(), "missing"), "--licensee", "A", "--edition", "free", "--expires", "2099-01-01"},
	} {
		if err := license.IssueCommand(args, &out, &errOut); err == nil {
			t.Errorf("accepted %v", args)
		}
	}
	if out.Len() != 0 {
		t.Fatalf("a key was printed for bad input: %q", out.String())
	}
}

// TestLoadPrivateKeyFormats: the base64 seed and PEM PKCS#8 (openssl's
// format) load to the same key; junk is refused.
func TestLoadPrivateKeyFormats(t *testing.T) {
	dir := t.TempDir()
	_, priv := license.GenerateVendorKey()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"seed": []byte(license.EncodePrivateKey(priv)),
		"pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, body, 0o600)
		got, err := license.LoadPrivateKey(p)
		if err != nil || !got.Equal(priv) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, body := range map[string]string{"junk": "not a key", "short": "AAAA", "bad pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := license.LoadPrivateKey(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
