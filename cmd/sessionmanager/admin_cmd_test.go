package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestAdminCommands(t *testing.T) {
	env := map[string]string{"SM_DATA_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out, errOut bytes.Buffer
	// create asks for the password on stdin when none is given.
	if err := run(ctx, []string{"admin", "create", "--email", "Root@Example.com"}, getenv, strings.NewReader("a long admin password\n"), &out, &errOut); err != nil {
		t.Fatalf("admin create: %v (%s)", err, errOut.String())
	}
	if err := run(ctx, []string{"admin", "create", "--email", "x@example.com", "--password", "short"}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Error("a too-short admin password was accepted")
	}
	if err := run(ctx, []string{"admin", "create-token", "--name", "", "--scope", "root"}, getenv, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Errorf("bad create-token: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "totp", "--email", "root@example.com"}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("admin totp: %v", err)
	}
	if !strings.HasPrefix(out.String(), "otpauth://totp/") || !strings.Contains(out.String(), "secret=") {
		t.Fatalf("otpauth URL: %q", out.String())
	}
	c, st, sec, err := toolStore(ctx, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	defer st.Close()
	a, err := st.AdminByEmail(ctx, "root@example.com")
	if err != nil || len(a.TOTPSealed) == 0 {
		t.Fatalf("TOTP not stored: %v", err)
	}
	secret, err := sec.Open(a.TOTPSealed, sm.TOTPAdditionalData(a.ID))
	if err != nil || !strings.Contains(out.String(), "secret="+string(secret)) {
		t.Fatalf("the stored TOTP secret does not open to the printed one: %v", err)
	}
	if strings.Contains(errOut.String(), "a long admin password") {
		t.Error("the admin password was echoed")
	}
}
