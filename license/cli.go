package license

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// IssueCommand is `sessionmanager license issue --key FILE --licensee L
// --edition E --expires 2027-01-01 [--seats N] [--instances N]
// [--issued DATE] [--id ID]`: it prints the new key on stdout and what it
// grants on stderr.
func IssueCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "vendor private key file (base64 seed or PEM PKCS#8)")
	licensee := fs.String("licensee", "", "who the licence is for")
	edition := fs.String("edition", "", "free, premium or advanced")
	expires := fs.String("expires", "", "expiry: YYYY-MM-DD (00:00 UTC of that day) or RFC 3339")
	issued := fs.String("issued", "", "issue time (default now): YYYY-MM-DD or RFC 3339")
	seats := fs.Int("seats", 0, "seats (0 = unlimited; informational)")
	instances := fs.Int("instances", 0, "instances (0 = unlimited; informational)")
	id := fs.String("id", "", "licence id (default random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("license issue: unexpected argument %q", fs.Arg(0))
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"key", *keyFile}, {"licensee", *licensee}, {"edition", *edition}, {"expires", *expires}} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("license issue: missing %s", strings.Join(missing, ", "))
	}
	ed, err := ParseEdition(*edition)
	if err != nil {
		return err
	}
	exp, err := parseWhen(*expires)
	if err != nil {
		return fmt.Errorf("license issue: --expires: %w", err)
	}
	var iat time.Time
	if *issued != "" {
		if iat, err = parseWhen(*issued); err != nil {
			return fmt.Errorf("license issue: --issued: %w", err)
		}
	}
	priv, err := LoadPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	key, err := Issue(priv, Licence{ID: *id, Licensee: strings.TrimSpace(*licensee), Edition: ed, Seats: *seats, Instances: *instances, IssuedAt: iat, ExpiresAt: exp})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	lic, _ := Parse(key)
	printLicence(stderr, lic)
	return nil
}

// ShowCommand is `sessionmanager license show [--public-key BASE64] KEY`:
// it prints what a key says and whether it is genuine for this build's
// vendor key (or the one given). A malformed or forged key is an error; an
// expired genuine key is shown as expired.
func ShowCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("license show", flag.ContinueOnError)
	fs.SetOutput(stdout)
	pubText := fs.String("public-key", "", "vendor public key (base64); default: the built-in one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("license show: give exactly one KEY")
	}
	key := fs.Arg(0)
	pub, err := showPublicKey(*pubText)
	if err != nil {
		return err
	}
	lic, err := Parse(key)
	if err != nil {
		return err
	}
	printLicence(stdout, lic)
	v, err := NewVerifier(pub)
	if err != nil {
		return err
	}
	if _, err := v.Verify(key); err != nil {
		fmt.Fprintf(stdout, "signature:  NOT VALID (%s)\n", sm.ErrorMessage(err))
		return err
	}
	fmt.Fprintf(stdout, "signature:  valid (vendor key %s)\n", v.KeyID())
	status := "active"
	if !time.Now().Before(lic.ExpiresAt) {
		status = "expired: Premium and Advanced features lock; Free features keep working"
	}
	fmt.Fprintf(stdout, "status:     %s\n", status)
	return nil
}

// showPublicKey is the key ShowCommand checks against.
func showPublicKey(text string) (ed25519.PublicKey, error) {
	if text != "" {
		return decodePublicKey(text)
	}
	return defaultPublicKey()
}

// KeygenCommand is `sessionmanager license keygen --out FILE`: it writes a
// new vendor private key (mode 0600, never overwriting) and prints the
// public key to build into pubkey.go.
func KeygenCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("license keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file for the new private key (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("license keygen: missing --out")
	}
	pub, priv := GenerateVendorKey()
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("license keygen: %w", err)
	}
	if _, err := io.WriteString(f, EncodePrivateKey(priv)); err != nil {
		f.Close()
		return fmt.Errorf("license keygen: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("license keygen: %w", err)
	}
	fmt.Fprintln(stdout, EncodePublicKey(pub))
	fmt.Fprintf(stderr, "private key written to %s (keep it offline); public key id %s\n", *out, KeyIDOf(pub))
	return nil
}

// printLicence writes the fields of a licence, one a line.
func printLicence(w io.Writer, l Licence) {
	count := func(n int) string {
		if n == 0 {
			return "unlimited"
		}
		return fmt.Sprint(n)
	}
	fmt.Fprintf(w, "licensee:   %s\nedition:    %s\nid:         %s\nvendor key: %s\nseats:      %s\ninstances:  %s\nissued:     %s\nexpires:    %s\nfeatures:   %s\n",
		l.Licensee, l.Edition.Title(), l.ID, l.KeyID, count(l.Seats), count(l.Instances),
		l.IssuedAt.Format(time.RFC3339), l.ExpiresAt.Format(time.RFC3339), strings.Join(l.Edition.Features(), ", "))
}

// parseWhen reads YYYY-MM-DD (00:00 UTC) or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}
