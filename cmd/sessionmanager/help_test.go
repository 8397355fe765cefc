package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpEverySubcommand: every command and subcommand answers -h, -help
// and --help with its own usage on stdout and no error (exit 0), before it
// reads the environment or opens a store.
func TestHelpEverySubcommand(t *testing.T) {
	cases := []struct {
		args []string
		want string // in the usage printed
	}{
		{nil, "Usage:\n  sessionmanager serve"},
		{[]string{"serve"}, "Usage: sessionmanager serve [-addr"},
		{[]string{"demo"}, "Usage: sessionmanager demo"},
		{[]string{"migrate"}, "Usage: sessionmanager migrate"},
		{[]string{"keygen"}, "Usage: sessionmanager keygen"},
		{[]string{"admin"}, "Usage: sessionmanager admin COMMAND"},
		{[]string{"admin", "create"}, "Usage: sessionmanager admin create --email"},
		{[]string{"admin", "create-token"}, "Usage: sessionmanager admin create-token"},
		{[]string{"admin", "totp"}, "Usage: sessionmanager admin totp"},
		{[]string{"audit"}, "Usage: sessionmanager audit verify\n\nCommands:"},
		{[]string{"audit", "verify"}, "Usage: sessionmanager audit verify\n\nChecks"},
		{[]string{"geoip"}, "Usage: sessionmanager geoip update [flags]"},
		{[]string{"geoip", "update"}, "Usage: sessionmanager geoip update [--account-id"},
		{[]string{"license"}, "Usage: sessionmanager license COMMAND"},
		{[]string{"license", "issue"}, "Usage: sessionmanager license issue --key"},
		{[]string{"license", "show"}, "Usage: sessionmanager license show"},
		{[]string{"license", "keygen"}, "Usage: sessionmanager license keygen"},
		{[]string{"keys"}, "sessionmanager keys rotate   replace"},
		{[]string{"keys", "rotate"}, "sessionmanager keys rotate   replace"},
		{[]string{"keys", "list"}, "sessionmanager keys list"},
		{[]string{"keys", "withdraw"}, "sessionmanager keys withdraw ID"},
		{[]string{"version"}, "Usage: sessionmanager version"},
		{[]string{"help"}, "Usage:\n  sessionmanager serve"},
	}
	for _, c := range cases {
		for _, flag := range []string{"-h", "-help", "--help"} {
			args := append(append([]string{}, c.args...), flag)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				getenv := func(k string) string {
					t.Errorf("help read the environment (%s)", k)
					return ""
				}
				if err := run(context.Background(), args, getenv, strings.NewReader(""), &stdout, &stderr); err != nil {
					t.Fatalf("error (exit non-zero): %v; stderr %q", err, stderr.String())
				}
				if !strings.Contains(stdout.String(), c.want) {
					t.Fatalf("stdout lacks %q:\n%s", c.want, stdout.String())
				}
				if stderr.Len() != 0 {
					t.Fatalf("stderr: %q", stderr.String())
				}
			})
		}
	}
	// A help flag after other flags still answers the subcommand's usage.
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create-token", "--name", "x", "--help"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stdout); err != nil ||
		!strings.HasPrefix(stdout.String(), "Usage: sessionmanager admin create-token") {
		t.Fatalf("help after flags: %v %q", err, stdout.String())
	}
}

// TestHelpTopicsNameTheirCommand: each topic's usage names its own path, so
// a topic pasted under the wrong key is caught; the general usage lists
// every command.
func TestHelpTopicsNameTheirCommand(t *testing.T) {
	for path, text := range helpTopics {
		if path == "help" {
			continue
		}
		if !strings.HasPrefix(text, "Usage:") || !strings.Contains(text, "sessionmanager "+path) {
			t.Errorf("topic %q: %q", path, strings.SplitN(text, "\n", 2)[0])
		}
		if cmd, _, _ := strings.Cut(path, " "); !strings.Contains(usage, "sessionmanager "+cmd) {
			t.Errorf("the general usage does not list %q", cmd)
		}
	}
}
