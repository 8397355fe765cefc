package main

import (
	"bytes"
	"context"
	"os"
	"sync/atomic"
	"testing"
)

// lateCount is a real store whose first CountAdmins answers 0: the
// instance saw no admin, then another instance created one before it did
// (the race of instances started together on a new database).
type lateCount struct {
	fullStore
	calls atomic.Int32
}

func (s *lateCount) CountAdmins(ctx context.Context) (int, error) {
	if s.calls.Add(1) == 1 {
		return 0, nil
	}
	return s.fullStore.CountAdmins(ctx)
}

// An instance that loses the race to create the first admin starts with the
// winner's account instead of exiting with "first admin: conflict", and
// removes the initial-password file whose password was never stored.
func TestFirstAdminRaceLoserStarts(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string { return nil }},
		{"postgres", func(t *testing.T) map[string]string { return postgresEnv(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			env := tc.env(t)
			dir := t.TempDir()
			getenv := func(k string) string {
				if k == "SM_DATA_DIR" {
					return dir
				}
				return env[k]
			}
			c, err := loadConfig(getenv, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, _, err := openStore(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			winner := &app{store: st, cfg: c}
			if err := winner.ensureAdmin(ctx, getenv, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(initialPasswordFile(c.DataDir)); err != nil {
				t.Fatal(err)
			}
			loser := &app{store: &lateCount{fullStore: st}, cfg: c}
			var out bytes.Buffer
			if err := loser.ensureAdmin(ctx, getenv, &out); err != nil {
				t.Fatalf("the instance that lost the race to create the first admin failed: %v", err)
			}
			if _, err := os.Stat(initialPasswordFile(c.DataDir)); !os.IsNotExist(err) {
				t.Errorf("the loser left an initial-password file whose password is no admin's (stat: %v)", err)
			}
			if out.Len() != 0 {
				t.Errorf("the loser announced an account it did not create: %q", out.String())
			}
			if n, err := st.CountAdmins(ctx); err != nil || n != 1 {
				t.Errorf("admins = %d, %v; want 1", n, err)
			}
		})
	}
}
