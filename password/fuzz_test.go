package password

import (
	"testing"
)

// FuzzVerify feeds arbitrary hashes and passwords to Verify: it must never
// panic, never report a match with an error, and every hash it accepts must
// be in canonical form (re-encoding the parsed parts gives it back).
func FuzzVerify(f *testing.F) {
	f.Add(referenceHash, "password")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw")
	h := New(cheap)
	// Low limits keep each run cheap; the parsing paths are the same.
	h.limits.maxMemory, h.limits.maxTime, h.limits.maxThreads = 256, 2, 4
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok, err := h.Verify(encoded, password)
		if ok && err != nil {
			t.Fatalf("match with an error: %v", err)
		}
		p, salt, key, err := h.decode(encoded)
		if err != nil {
			if !h.NeedsRehash(encoded) {
				t.Fatal("malformed hash does not need a rehash")
			}
			return
		}
		if !h.limits.allows(p) {
			t.Fatalf("accepted params %+v beyond limits", p)
		}
		if again := encode(p, salt, key); again != encoded {
			t.Fatalf("accepted non-canonical hash %q (canonical %q)", encoded, again)
		}
	})
}
