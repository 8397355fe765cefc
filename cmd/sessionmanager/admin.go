package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// toolStore opens the store and the secrets for a one-shot command.
func toolStore(ctx context.Context, getenv func(string) string, stderr io.Writer) (*config, fullStore, *token.Secrets, error) {
	c, err := loadConfig(getenv, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	key, old, err := encryptionKeys(c, newLogger(stderr, "error"))
	if err != nil {
		return nil, nil, nil, err
	}
	sec, err := token.NewSecrets(key, old...)
	if err != nil {
		return nil, nil, nil, err
	}
	st, _, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, st, sec, nil
}

// configuredStore opens the store the environment names (migrating it).
func configuredStore(ctx context.Context, getenv func(string) string) (fullStore, string, error) {
	c, err := loadConfig(getenv, nil)
	if err != nil {
		return nil, "", err
	}
	return openStore(ctx, c)
}

func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	st, kind, err := configuredStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "migrations applied (%s)\n", kind)
	return nil
}

// createAdmin makes an admin account with an argon2id password hash.
func createAdmin(ctx context.Context, st sm.AdminStore, email, pw string) (*sm.Admin, error) {
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		if !strings.HasSuffix(email, "@localhost") || strings.ContainsAny(email, " <>") {
			return nil, &configError{fmt.Sprintf("--email %q is not a valid email address", email)}
		}
	}
	if err := password.Validate(pw); err != nil {
		return nil, &configError{"--password: " + err.Error()}
	}
	hash, err := password.Default().Hash(pw)
	if err != nil {
		return nil, err
	}
	a := &sm.Admin{ID: sm.NewID(), Email: strings.ToLower(email), PasswordHash: hash, CreatedAt: sm.SystemClock{}.Now()}
	if err := st.CreateAdmin(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

func adminCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &configError{"admin: expected create or create-token"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("admin "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch sub {
	case "create":
		email := fs.String("email", "", "admin email")
		pw := fs.String("password", "", "password (asked on the terminal when empty)")
		if err := fs.Parse(args); err != nil {
			return &configError{err.Error()}
		}
		if *email == "" {
			return &configError{"admin create: --email is required"}
		}
		if *pw == "" {
			p, err := readPassword(stdin, stderr)
			if err != nil {
				return err
			}
			*pw = p
		}
		_, st, _, err := toolStore(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer st.Close()
		if _, err := createAdmin(ctx, st, *email, *pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin %s created\n", *email)
		return nil
	case "create-token":
		name := fs.String("name", "", "token name")
		scope := fs.String("scope", "read", "read, write or service")
		if err := fs.Parse(args); err != nil {
			return &configError{err.Error()}
		}
		_, st, sec, err := toolStore(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer st.Close()
		plain, t, err := sm.NewAdminToken(ctx, st, sec, *name, *scope, sm.SystemClock{}.Now())
		if err != nil {
			return &configError{"admin create-token: " + sm.ErrorMessage(err) + fieldList(err)}
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "token %q (scope %s, id %s) created; it is shown only once\n", t.Name, t.Scope, t.ID)
		return nil
	case "totp":
		email := fs.String("email", "", "admin email")
		if err := fs.Parse(args); err != nil {
			return &configError{err.Error()}
		}
		c, st, sec, err := toolStore(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer st.Close()
		a, err := st.AdminByEmail(ctx, strings.ToLower(*email))
		if err != nil {
			return &configError{fmt.Sprintf("admin totp: no admin %q", *email)}
		}
		secret := sm.NewTOTPSecret()
		sealed, err := sm.SealTOTP(sec, a.ID, secret)
		if err != nil {
			return err
		}
		if err := st.SetAdminTOTP(ctx, a.ID, sealed); err != nil {
			return err
		}
		// A new second factor ends every dashboard sign-in of this admin.
		if err := endAdminSignIns(ctx, c, st, a, sm.EndTOTPChanged, "admin.totp_changed", stderr); err != nil {
			return err
		}
		// The secret is shown once, to this terminal, for an authenticator app.
		fmt.Fprintln(stdout, sm.TOTPURI("Magic Session Manager", a.Email, secret))
		fmt.Fprintln(stderr, "two-factor sign-in enabled: add the otpauth URL above to an authenticator app")
		return nil
	}
	return &configError{fmt.Sprintf("admin: unknown command %q (expected create, create-token or totp)", sub)}
}

// endAdminSignIns ends every dashboard sign-in of admin from a one-shot
// command as a running instance would: in the store, on the bus (Redis or
// Postgres NOTIFY, so every instance refuses them at once), and in the
// audit log.
func endAdminSignIns(ctx context.Context, c *config, st fullStore, a *sm.Admin, reason sm.EndReason, action string, stderr io.Writer) error {
	now := sm.SystemClock{}.Now()
	ended, err := st.EndAdminSessions(ctx, a.ID, "", now, reason)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(map[string]any{"action": action, "adminId": a.ID, "reason": reason, "ended": len(ended), "sessions": ended})
	if err := st.AppendEvent(ctx, &sm.Event{Type: sm.EventAdminAction, At: now, ActorType: sm.ActorSystem, ActorID: "cli", Data: raw}, nil); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if len(ended) > 0 {
		// Without a bus message instances notice within the state cache TTL
		// (2 s); with one, at once.
		parts, err := buildCluster(ctx, c, st, newLogger(stderr, "error"))
		if err != nil {
			fmt.Fprintf(stderr, "warning: could not tell running instances (%v); they notice within 2 s\n", err)
		} else {
			for _, id := range ended {
				if err := parts.bus.Publish(ctx, sm.Message{Kind: sm.MsgAdminSessionEnded, SessionID: id, UserID: a.ID, Reason: reason, At: now, Origin: parts.instance}); err != nil {
					fmt.Fprintf(stderr, "warning: could not tell running instances (%v); they notice within 2 s\n", err)
					break
				}
			}
			parts.close()
		}
	}
	fmt.Fprintf(stderr, "%d dashboard sign-in(s) of %s ended\n", len(ended), a.Email)
	return nil
}

func fieldList(err error) string {
	e, ok := err.(*sm.Error)
	if !ok || len(e.Fields) == 0 {
		return ""
	}
	var b strings.Builder
	for f, m := range e.Fields {
		fmt.Fprintf(&b, "; %s %s", f, m)
	}
	return b.String()
}

// readPassword asks twice on a terminal, or reads one line from a pipe.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(p1, p2) {
			return "", &configError{"the passwords do not match"}
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", &configError{"admin create: no password given (use --password or type it on a terminal)"}
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return &configError{"audit: expected `audit verify`"}
	}
	_, st, sec, err := toolStore(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := sm.VerifyAudit(ctx, st, sec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit chain intact: %d events verified, head seq %d signed, %d checkpoints\n",
		rep.Events, rep.Head.Seq, rep.Checkpoints)
	if rep.SignedSince > 0 {
		fmt.Fprintf(stdout, "signed since seq %d: the log predates signing; the events up to it are covered by the hash chain only\n", rep.SignedSince)
	}
	if rep.Head.Seq > 0 {
		// Kept outside the database, the head catches a rollback (docs/ADMIN_API.md).
		fmt.Fprintf(stdout, "head: seq %d at %s hash %x\n", rep.Head.Seq, rep.Head.At.Format(time.RFC3339Nano), rep.Head.Hash)
	}
	return nil
}
