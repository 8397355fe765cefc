package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// generateCmd fills an empty store with generated users and sessions
// (sm.Synthetic) through its bulk loader: COPY on PostgreSQL, batched
// INSERTs on SQLite. For load and scale runs (docs/SCALE.md).
func generateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stdout, helpTopics["generate"]) }
	n := fs.Int("sessions", 1_000_000, "how many sessions (users: a tenth as many)")
	seed := fs.Uint64("seed", 1, "the random seed (the same seed, the same data)")
	nowFlag := fs.String("now", "", "the newest login, RFC 3339 (default: now)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return &configError{"generate: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return &configError{fmt.Sprintf("generate: unexpected argument %q", fs.Arg(0))}
	}
	if *n <= 0 {
		return &configError{fmt.Sprintf("generate: -sessions %d: must be a positive number", *n)}
	}
	g := sm.Synthetic{Sessions: *n, Seed: *seed}
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return &configError{fmt.Sprintf("generate: -now %q: not an RFC 3339 time", *nowFlag)}
		}
		g.Now = t
	}
	st, kind, err := configuredStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	if err := sm.Generate(ctx, st, g); err != nil {
		var warning *sm.BulkLoadWarning
		if !errors.As(err, &warning) {
			return fmt.Errorf("generate: %w", err)
		}
		fmt.Fprintf(stderr, "generate: warning: %v\n", warning.Err)
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "generated %d sessions of %d users (%s) in %v: %.0f sessions/s\n",
		*n, sm.SyntheticUsers(*n), kind, took.Round(time.Millisecond), float64(*n)/took.Seconds())
	return nil
}
