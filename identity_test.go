package sessionmanager

import "testing"

func TestIdentityKey(t *testing.T) {
	for _, same := range []string{"alice", "Alice", "ALICE", "ａｌｉｃｅ", "ＡＬＩＣＥ", "аӏісе", "\u0430lice", "al\u200bice", "alice\u202e", "\u03b1lice", "alice\u00ad", "\ufeffalice"} {
		if got := IdentityKey(same); got != "alice" {
			t.Errorf("IdentityKey(%q) = %q, want alice", same, got)
		}
	}
	for _, other := range []string{"alice2", "aliсe-bob", "bob", "álice"} {
		if IdentityKey(other) == "alice" {
			t.Errorf("IdentityKey(%q) is alice", other)
		}
	}
	if got := IdentityKey("Straße@Example.COM"); got != "strasse@example.com" {
		t.Errorf("email key: %q", got)
	}
}

func TestIdentityProblem(t *testing.T) {
	for s, bad := range map[string]bool{
		"alice": false, "alice.smith+tag@example.com": false, "ａlice": false, "josé": false, "иван": false, "δημήτρης": false,
		"аlice": true, "ali\u0441e": true, "\u03b1lice": true, // mixed scripts
		"al\u200bice": true, "alice\u202e": true, "alice\u2066": true, "alice\u00ad": true, "\ufeffalice": true, // invisible, bidi
		"al ice": true, "al\x00ice": true, "al\xffice": true, "": true,
	} {
		if got := identityProblem(s) != ""; got != bad {
			t.Errorf("identityProblem(%q) = %q, want refused=%v", s, identityProblem(s), bad)
		}
	}
	if textProblem("pass\x00word") == "" || textProblem("pass\xc3") == "" || textProblem("pässword 😀") != "" {
		t.Error("textProblem")
	}
}

// BenchmarkIdentityKey is the cost every user write and lookup adds.
func BenchmarkIdentityKey(b *testing.B) {
	for b.Loop() {
		_ = IdentityKey("Alice.Smith+tag@Example.com")
	}
}
