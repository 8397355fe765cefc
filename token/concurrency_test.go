package token

import (
	sm "github.com/magic-sessionmanager/sessionmanager"

	"bytes"
	"context"
	"sync"
	"testing"
)

// TestConcurrentUse runs verifies, issues, reloads, rotations and lookup
// hashes at once; run with -race, it checks the lock-free snapshot, the
// cache shards and the pooled HMAC states.
func TestConcurrentUse(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	secrets := mustSecrets(t, testKey(1))
	ctx, now := context.Background(), clock.Now()
	tok, _ := mustIssue(t, kr, now)
	secret, want, _ := secrets.NewToken()

	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, err := kr.Verify(tok, now); err != nil {
					errs <- "verify: " + err.Error()
					return
				}
				fresh, _, err := kr.Issue(ctx, "u", "s", sm.AuthContext{}, "", now)
				if err != nil || !verifies(kr, fresh, now) {
					errs <- "fresh token does not verify"
					return
				}
				if !bytes.Equal(secrets.LookupHash(secret), want) {
					errs <- "lookup hash changed under concurrency"
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := kr.RotateImmediately(ctx, now); err != nil {
				errs <- "rotate: " + err.Error()
			}
		}
	})
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
