// Command sessionmanager runs Magic Session Manager and its tools.
//
//	sessionmanager serve        run the service (default)
//	sessionmanager migrate      apply database migrations and exit
//	sessionmanager keygen       print a fresh SESSION_ENCRYPTION_KEY
//	sessionmanager admin ...    create admin accounts and API tokens
//	sessionmanager audit verify check the audit log's hash chain, signed head and checkpoints
//	sessionmanager keys ...     rotate or list the access-token signing keys
//	sessionmanager version      print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/magic-sessionmanager/sessionmanager/alert"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionmanager:", err)
		var ce *configError
		if errors.As(err, &ce) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `Magic Session Manager

Usage:
  sessionmanager serve [-addr HOST:PORT] [-database-url URL] [-data-dir DIR] [-redis-url URL]
  sessionmanager demo [-addr HOST:PORT]      a live demo on demo data, every feature unlocked
  sessionmanager migrate
  sessionmanager generate [-sessions N]        fill an empty database with generated sessions (load tests)
  sessionmanager keygen
  sessionmanager admin create --email E [--password P]
  sessionmanager admin create-token --name NAME --scope read|write|service
  sessionmanager admin totp --email E          enable two-factor sign-in for an admin
  sessionmanager audit verify
  sessionmanager keys rotate|list|withdraw ID  replace the token signing key now; list; expire a retired key
  sessionmanager geoip update [--account-id ID --license-key KEY] [--editions E,...] [--dir DIR]
  sessionmanager license issue --key FILE --licensee L --edition premium|advanced --expires 2027-01-01
  sessionmanager license show KEY
  sessionmanager version

Every command answers -h or --help with its usage and flags.
Configuration is read from the environment; see README.md.
`

// run is the whole program; main only wires the process to it, so tests
// run the real thing in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if text, ok := helpRequest(args); ok && (len(args) == 0 || args[0] != conditionEvalCmd) {
		fmt.Fprint(stdout, text)
		return nil
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "demo":
		return demo(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, getenv, stdout, stderr)
	case "generate":
		return generateCmd(ctx, args, getenv, stdout, stderr)
	case "keygen":
		fmt.Fprintln(stdout, generateKey())
		return nil
	case "admin":
		return adminCmd(ctx, args, getenv, stdin, stdout, stderr)
	case "license":
		return licenseCmd(args, stdout, stderr)
	case "geoip":
		return geoipCmd(ctx, args, getenv, stdout, stderr)
	case "audit":
		return auditCmd(ctx, args, getenv, stdout, stderr)
	case "keys":
		return keysCmd(ctx, args, getenv, stdout, stderr)
	case conditionEvalCmd:
		// Hidden: the alert worker's evaluator process (see alerts.go).
		limits, err := alert.ParseConditionLimitFlags(args)
		if err != nil {
			return &configError{"condition-eval: " + err.Error()}
		}
		return alert.ServeConditions(stdin, stdout, limits)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "sessionmanager", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &configError{fmt.Sprintf("unknown command %q; run `sessionmanager help`", cmd)}
}
