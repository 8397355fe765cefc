package password

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// cheap keeps most tests fast; the default parameters run in
// TestDefaultHasher and the benchmarks.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// referenceHash was made by the reference C implementation (phc-winner-argon2
// CLI: echo -n password | argon2 randomsaltishard -id -t 3 -m 12 -p 1 -l 32 -e).
const referenceHash = `$argon2id$v=19$m=4096,t=3,p=1$cmFuZG9tc2FsdGlzaGFyZA$DYojYpnUWSMmTtrkVXyaNWVGxLmGe1n8VJBPDdFkbjU`

var phcShape = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestDefaultHasher(t *testing.T) {
	h := Default()
	if h.Params() != DefaultParams || DefaultParams != (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Fatalf("default params = %+v", h.Params())
	}
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	m := phcShape.FindStringSubmatch(enc)
	if m == nil || m[1] != "19456" || m[2] != "2" || m[3] != "1" {
		t.Fatalf("hash %q is not the default PHC string", enc)
	}
	assertVerify(t, h, enc, "correct horse battery staple", true)
	assertVerify(t, h, enc, "correct horse battery stapler", false)
}

func assertVerify(t *testing.T, h *Hasher, enc, pw string, want bool) {
	t.Helper()
	got, err := h.Verify(enc, pw)
	if err != nil || got != want {
		t.Fatalf("Verify(%q, %q) = %v, %v; want %v", enc, pw, got, err, want)
	}
}

func TestHashVerify(t *testing.T) {
	h := New(cheap)
	enc, err := h.Hash("s3cret-pässwörd")
	if err != nil {
		t.Fatal(err)
	}
	if !phcShape.MatchString(enc) || strings.Contains(enc, "s3cret") {
		t.Fatalf("hash %q", enc)
	}
	assertVerify(t, h, enc, "s3cret-pässwörd", true)
	for _, wrong := range []string{"", "s3cret-passwort", "s3cret-pässwörd ", "S3cret-pässwörd"} {
		assertVerify(t, h, enc, wrong, false)
	}
	again, _ := h.Hash("s3cret-pässwörd")
	if again == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if _, err := h.Hash(strings.Repeat("a", MaxBytes+1)); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("over-long password hashed: %v", err)
	}
	assertVerify(t, h, enc, strings.Repeat("a", MaxBytes+1), false)
}

func TestVerifyReferenceHash(t *testing.T) {
	h := Default()
	assertVerify(t, h, referenceHash, "password", true)
	assertVerify(t, h, referenceHash, "Password", false)
}

func TestVerifyUsesParamsOfTheHash(t *testing.T) {
	old := New(Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16})
	enc, _ := old.Hash("password1")
	if !strings.Contains(enc, "m=128,t=2,p=2$") {
		t.Fatalf("hash %q lacks its params", enc)
	}
	assertVerify(t, New(cheap), enc, "password1", true)
	assertVerify(t, New(cheap), enc, "password2", false)
}

func TestNeedsRehash(t *testing.T) {
	h := New(cheap)
	current, _ := h.Hash("pw")
	weaker, _ := New(Params{Memory: 32, Time: 1, Threads: 1}).Hash("pw")
	stronger, _ := New(Params{Memory: 128, Time: 1, Threads: 1}).Hash("pw")
	longerKey, _ := New(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 64}).Hash("pw")
	tests := []struct {
		name string
		enc  string
		want bool
	}{
		{"current", current, false},
		{"weaker memory", weaker, true},
		{"other memory", stronger, true},
		{"other key length", longerKey, true},
		{"malformed", "$argon2id$v=19$garbage", true},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		if got := h.NeedsRehash(tt.enc); got != tt.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewFillsAndCaps(t *testing.T) {
	if got := New(Params{}).Params(); got != DefaultParams {
		t.Fatalf("New(zero) = %+v, want defaults", got)
	}
	got := New(Params{Memory: 1 << 31, Time: 1000, Threads: 200, SaltLen: 1, KeyLen: 4096}).Params()
	want := Params{Memory: 256 * 1024, Time: 16, Threads: 16, SaltLen: 8, KeyLen: 64}
	if got != want {
		t.Fatalf("New(huge) = %+v, want %+v", got, want)
	}
	if got := New(Params{Memory: 8, Threads: 4}).Params(); got.Memory != 32 {
		t.Fatalf("memory below 8 KiB per lane not raised: %+v", got)
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	h := New(cheap)
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "DYojYpnUWSMmTtrkVXyaNWVGxLmGe1n8VJBPDdFkbjU"
	withCost := func(cost string) string { return "$argon2id$v=19$" + cost + "$" + salt + "$" + key }
	tests := map[string]string{
		"empty":             "",
		"dollar only":       "$",
		"argon2i":           strings.Replace(referenceHash, "argon2id", "argon2i", 1),
		"bcrypt":            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"version 16":        strings.Replace(referenceHash, "v=19", "v=16", 1),
		"no version":        "$argon2id$m=4096,t=3,p=1$" + salt + "$" + key,
		"extra field":       referenceHash + "$x",
		"leading text":      "x" + referenceHash,
		"cost order":        withCost("t=3,m=4096,p=1"),
		"cost missing p":    withCost("m=4096,t=3"),
		"cost extra keyid":  withCost("m=4096,t=3,p=1,keyid=x"),
		"cost not a number": withCost("m=abc,t=3,p=1"),
		"cost negative":     withCost("m=-1,t=3,p=1"),
		"cost plus sign":    withCost("m=+64,t=3,p=1"),
		"cost empty value":  withCost("m=,t=3,p=1"),
		"cost overflow":     withCost("m=99999999999,t=3,p=1"),
		"time zero":         withCost("m=64,t=0,p=1"),
		"threads zero":      withCost("m=64,t=1,p=0"),
		"threads 256":       withCost("m=4096,t=1,p=256"),
		"memory 4 GiB":      withCost("m=4194304,t=1,p=1"),
		"memory above cap":  withCost("m=262145,t=1,p=1"),
		"time above cap":    withCost("m=64,t=17,p=1"),
		"threads above cap": withCost("m=4096,t=1,p=17"),
		"memory below 8p":   withCost("m=31,t=1,p=4"),
		"salt not base64":   "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"salt padded":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"salt too short":    "$argon2id$v=19$m=64,t=1,p=1$c29tZXM$" + key,
		"hash too short":    "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$DYojYpnUWSMmTtrk",
		"hash too long":     "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 100),
		"hash empty":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"hash url alphabet": "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("_", 43),
		"hash stray bits":   "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 42) + "B",
		"whitespace":        referenceHash + "\n",
		"nul in the middle": strings.Replace(referenceHash, "t=3", "t=3\x00", 1),
	}
	for name, enc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(enc, "password")
			if ok || sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("Verify(%q) = %v, %v; want false, EINVALID", enc, ok, err)
			}
		})
	}
}

func TestConcurrentHashes(t *testing.T) {
	h := New(cheap)
	enc, _ := h.Hash("password")
	var wg sync.WaitGroup
	results := make(chan bool, 4*cap(h.slots))
	for i := range 4 * cap(h.slots) {
		wg.Go(func() {
			ok, err := h.Verify(enc, map[bool]string{true: "password", false: "wrong"}[i%2 == 0])
			results <- err == nil && ok == (i%2 == 0)
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		if !r {
			t.Fatal("a concurrent Verify gave the wrong answer")
		}
	}
	if len(h.slots) != 0 {
		t.Fatalf("%d slots still held after all hashes finished", len(h.slots))
	}
}
