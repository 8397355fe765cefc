package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

const keysUsage = `Usage:
  sessionmanager keys rotate   replace the access-token signing key: the new key
                               is published now and signs after a lead (below)
  sessionmanager keys rotate --now
                               emergency: the new key signs at once
  sessionmanager keys list     list the signing keys (id, status, signs from,
                               retired, stored expiry)
  sessionmanager keys withdraw ID
                               expire a retired key now (it leaked): every
                               instance refuses its tokens at once (bus) or at
                               its next reload; offline verifiers may accept
                               them until their cached JWKS expires (5m, plus
                               any proxy cache)

rotate: the new key is published in the JWKS at once and signs about 6m30s
later (the JWKS max-age 5m, plus the reload interval and the grace), so no
verifier holding a cached JWKS refuses its tokens; until then the current key
signs. At the switch the old key signs no more and stays in the JWKS until
every token it signed has expired (each instance counts its own
SM_ACCESS_TOKEN_TTL plus a grace of the same length, at most 1m). A second
rotate while a new key waits is refused. --now skips the lead: verifiers with
a cached JWKS refuse the new key's tokens until they refetch it (the Go client
does on an unknown kid, at most every 10s; others up to the 5m max-age).
Rotations are recorded in the audit log (signing_key.rotated) and announced to
the running instances (Redis or Postgres bus); without a shared bus they pick
them up within half the grace. The leader also rotates on its own every
SM_SIGNING_KEY_ROTATION (720h), publishing the next key the lead time ahead.
All read the same environment as serve (DATABASE_URL, SESSION_ENCRYPTION_KEY...).
`

// keyJobs are the signing-key jobs of a serving instance: every instance
// keeps its keys current (bus message or periodic reload); the leader
// rotates on schedule when SM_SIGNING_KEY_ROTATION is on.
func (a *app) keyJobs() []func(ctx context.Context) {
	a.rotator = &token.Rotator{Keyring: a.keyring, Period: a.cfg.SigningKeyRotation, Audit: a.manager, Bus: a.cluster.bus, Logger: a.log}
	jobs := []func(ctx context.Context){func(ctx context.Context) { _ = a.keyring.Watch(ctx, a.cluster.bus, a.log) }}
	if a.cfg.SigningKeyRotation > 0 {
		jobs = append(jobs, func(ctx context.Context) { a.cluster.leader(ctx, "signing-key-rotation", a.rotator.Run) })
	}
	return jobs
}

// keyringConfig is the Keyring configuration of c.
func keyringConfig(c *config, now func() time.Time) token.Config {
	return token.Config{Issuer: c.Issuer, Audience: c.Audience, TTL: c.AccessTokenTTL, Now: now, CacheSize: c.TokenCacheSize,
		JWKSMaxAge: c.JWKSMaxAge, SignLead: c.SigningKeyLead}
}

// storeRecorder records audit events straight into the store, for a
// one-shot command that has no Manager.
type storeRecorder struct{ st sm.EventStore }

func (r storeRecorder) Record(ctx context.Context, e *sm.Event) error {
	return r.st.AppendEvent(ctx, e, nil)
}

func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &configError{"keys: missing subcommand (rotate, list); run `sessionmanager keys --help`"}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	case "rotate", "list", "withdraw":
	default:
		return &configError{fmt.Sprintf("keys: unknown subcommand %q; run `sessionmanager keys --help`", args[0])}
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stdout, keysUsage) }
	var now *bool
	if args[0] == "rotate" {
		now = fs.Bool("now", false, "the new key signs at once (emergency)")
	}
	rest := args[1:]
	// A key id is base64url and may start with "-": `keys withdraw -x...`
	// names a key, not a flag (help flags aside).
	if args[0] == "withdraw" && len(rest) == 1 && strings.HasPrefix(rest[0], "-") && !helpFlag(rest[0]) {
		rest = []string{"--", rest[0]}
	}
	if err := fs.Parse(rest); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return &configError{"keys " + args[0] + ": " + err.Error()}
	}
	want := 0
	if args[0] == "withdraw" {
		want = 1
	}
	if fs.NArg() > want {
		return &configError{fmt.Sprintf("keys %s: unexpected argument %q", args[0], fs.Arg(want))}
	}
	if fs.NArg() < want {
		return &configError{"keys withdraw: which key? give its id (sessionmanager keys list)"}
	}
	c, st, sec, err := toolStore(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "list" {
		return listKeys(ctx, st, stdout)
	}
	kr, err := token.NewKeyring(ctx, st, sec, keyringConfig(c, time.Now))
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	log := newLogger(stderr, "warn")
	parts, err := buildCluster(ctx, c, st, log)
	if err != nil {
		return err
	}
	defer parts.close()
	rotator := &token.Rotator{Keyring: kr, Audit: storeRecorder{st}, Bus: parts.bus, Logger: log}
	if args[0] == "withdraw" {
		if err := rotator.Withdraw(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "withdrew %s\n", fs.Arg(0))
		return nil
	}
	rotate := rotator.RotateNow
	if *now {
		rotate = rotator.RotateImmediately
	}
	rot, err := rotate(ctx, token.TriggerManual)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	fmt.Fprintf(stdout, "new signing key %s\npublished now, signs from %s\n", rot.NewKeyID, rot.SignsFrom.UTC().Format(time.RFC3339))
	for _, id := range rot.RetiredKeyIDs {
		fmt.Fprintf(stdout, "retired %s (signs until %s, verifies until at least %s)\n", id,
			rot.SignsFrom.UTC().Format(time.RFC3339), rot.RetiredUntil.UTC().Format(time.RFC3339))
	}
	return nil
}

// listKeys prints the stored signing keys, public data only. FROM is when
// the key signs (a rotated-in key is dated at the end of its lead); EXPIRES
// is the stored expiry, which an instance with a longer TTL extends.
func listKeys(ctx context.Context, st sm.KeyStore, stdout io.Writer) error {
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(stdout, "%-44s  %-9s  %-20s  %-20s  %s\n", "ID", "STATUS", "FROM", "RETIRED", "EXPIRES")
	for _, k := range keys {
		status := "signing"
		switch {
		case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(k.RetiredAt):
			status = "withdrawn"
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			status = "expired"
		case !k.RetiredAt.IsZero() && !now.Before(k.RetiredAt):
			status = "retired"
		case now.Before(k.CreatedAt):
			status = "next"
		}
		fmt.Fprintf(stdout, "%-44s  %-9s  %-20s  %-20s  %s\n", k.ID, status, stamp(k.CreatedAt), stamp(k.RetiredAt), stamp(k.ExpiresAt))
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
