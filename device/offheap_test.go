package device

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/data"
)

// The copy mirrors the library's node layout; an upgrade that changes it
// must be noticed here, not by a trie left on the heap without a word.
func TestOffHeapLayoutMatchesTheLibrary(t *testing.T) {
	if !layoutMatches() {
		t.Fatal("useragent.RuneTrie is no longer laid out as mirrorNode: update offheap.go for this version of go-useragent")
	}
}

// testTrie builds a trie of the library's own test user agents and ours,
// as the library builds its embedded one: one Put per definition line, a
// user agent's letters alone (its data/final.txt holds
// "MozillaXLinuxxAppleWebKitKHTMLlikeGeckoChromeSafari").
func testTrie() *useragent.RuneTrie {
	trie := useragent.NewRuneTrie()
	for _, ua := range testUAs() {
		trie.Put(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return -1
		}, ua))
	}
	return trie
}

func testUAs() []string {
	uas := []string{"", "Mozilla", "curl/8.5.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
	for _, c := range data.AllTestCases {
		uas = append(uas, c.UserAgent)
	}
	for _, r := range realUAs {
		uas = append(uas, r.ua)
	}
	return uas
}

// The copy answers every lookup as the original does, through the
// library's own Get, with collections run in between (a copy that wrote
// past its memory or hid a heap pointer would show here).
func TestOffHeapCopyParsesAsTheOriginal(t *testing.T) {
	orig := testTrie()
	moved := offHeap(orig)
	if moved == orig {
		t.Fatal("the trie was not moved")
	}
	runtime.GC()
	uas, known := testUAs(), 0
	for i, ua := range uas {
		got, want := moved.Get(ua), orig.Get(ua)
		if got != want {
			t.Fatalf("%q: the copy answers %+v, the original %+v", ua, got, want)
		}
		if want.Browser() != "" {
			known++
		}
		if i%50 == 0 {
			runtime.GC()
		}
	}
	if known < len(uas)/2 {
		t.Fatalf("only %d of %d user agents have a browser in the test trie: the comparison shows little", known, len(uas))
	}
}

// The point of the copy: the collector no longer has the trie's objects to
// visit. Moving it frees about two heap objects per node (the node and its
// children's array) and their bytes.
func TestOffHeapFreesTheHeapObjects(t *testing.T) {
	heap := func() (objects, bytes uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapObjects, ms.HeapAlloc
	}
	orig := testTrie()
	nodes := 0
	var count func(*mirrorNode)
	count = func(n *mirrorNode) {
		nodes++
		for _, c := range n.children {
			count(c.node)
		}
	}
	count(mirror(orig))
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	want := orig.Get(ua)
	if want.Browser() == "" {
		t.Fatalf("the test trie does not know %q", ua)
	}
	before, beforeBytes := heap()
	moved := offHeap(orig)
	runtime.KeepAlive(orig)
	orig = nil
	after, afterBytes := heap()
	// The trie's objects and their bytes left the heap (a copy kept on the
	// heap would bring the bytes back).
	if before < after || before-after < uint64(nodes) {
		t.Fatalf("moving a trie of %d nodes freed %d heap objects (%d -> %d), want at least %d",
			nodes, int64(before)-int64(after), before, after, nodes)
	}
	if min := uint64(nodes) * uint64(unsafe.Sizeof(mirrorNode{})); beforeBytes < afterBytes || beforeBytes-afterBytes < min {
		t.Fatalf("moving a trie of %d nodes freed %d heap bytes, want at least %d", nodes, int64(beforeBytes)-int64(afterBytes), min)
	}
	if got := moved.Get(ua); got != want {
		t.Fatalf("after the original was freed the copy answers %+v, want %+v", got, want)
	}
}

// New moves the library's trie once, whatever the number of parsers.
func TestNewMovesTheLibraryTrieOnce(t *testing.T) {
	a, b := New(), New()
	if a.ua != b.ua || a.ua.Trie == nil {
		t.Fatal("parsers do not share the library's parser")
	}
	root := a.ua.Trie
	_ = New()
	if a.ua.Trie != root {
		t.Fatal("a later New moved the trie again")
	}
}
