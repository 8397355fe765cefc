package sessionmanager_test

import (
	"errors"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// FuzzRefresh feeds any string to Manager.Refresh on a real SQLite store
// holding a live session: never a panic, every rejection is EUNAUTHORIZED
// or EINVALID, and no string but the issued refresh token rotates the
// session (the issued one is not in the seeds, so nothing here may pass).
func FuzzRefresh(f *testing.F) {
	e := newEnv(f, storeKinds[0])
	res := e.register("fuzzer")
	good := res.RefreshToken
	for _, s := range []string{
		"", "forged", strings.Repeat("A", 43), strings.Repeat("A", 129), good[:len(good)-1], good + "x",
		strings.ToUpper(good), "\x00", "' OR 1=1 --", good[:len(good)-1] + "B", "%00", strings.Repeat("\xff", 43),
	} {
		if s != good {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := e.m.Refresh(e.ctx, tok, client)
		if tok == good {
			return // the fuzzer found the real token: a rotation is correct
		}
		if err == nil {
			t.Fatalf("Refresh accepted %q -> session %s", tok, got.Session.ID)
		}
		var se *sm.Error
		if !errors.As(err, &se) || (se.Code != sm.EUNAUTHORIZED && se.Code != sm.EINVALID) {
			t.Fatalf("Refresh(%q): %v, want EUNAUTHORIZED or EINVALID", tok, err)
		}
	})
}
