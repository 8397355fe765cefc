package geo

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// TestHotReloadUnderLoad replaces the database file again and again (by
// rename and by overwriting in place) while goroutines look up: no lookup
// may fail, and every answer must come from the old or the new file.
func TestHotReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	country := func(cc string) map[string]mmdbtype.Map {
		return map[string]mmdbtype.Map{
			"81.2.69.0/24":  {"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}},
			"2001:480::/32": {"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}},
		}
	}
	versions := [][]byte{buildDB(t, "GeoLite2-Country", 6, country("GB")), buildDB(t, "GeoLite2-Country", 6, country("FR"))}
	path := filepath.Join(dir, "country.mmdb")
	writeFile(t, path, string(versions[0]))
	r := openResolver(t, Config{DBPaths: []string{path}, CloseGrace: time.Millisecond})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var lookups, failures atomic.Int64
	seen := [2]atomic.Int64{}
	for g := range 4 {
		wg.Go(func() {
			ip := netip.MustParseAddr([]string{"81.2.69.1", "2001:480::1"}[g%2])
			for ctx.Err() == nil {
				res, err := r.Lookup(ctx, ip)
				lookups.Add(1)
				switch {
				case err != nil:
					failures.Add(1)
					t.Errorf("lookup error: %v", err)
				case res.Location.CountryCode == "GB":
					seen[0].Add(1)
				case res.Location.CountryCode == "FR":
					seen[1].Add(1)
				default:
					failures.Add(1)
					t.Errorf("answer from neither file: %+v", res)
				}
			}
		})
	}
	const swaps = 40
	for i := 1; i <= swaps; i++ {
		data := versions[i%2]
		if i%4 == 0 {
			writeFile(t, path, string(data)) // in place, like cp
		} else {
			tmp := filepath.Join(dir, "next.tmp")
			writeFile(t, tmp, string(data))
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}
		bumpMtime(t, path, time.Duration(i)*time.Second)
		r.ReloadFiles()
		want := []string{"GB", "FR"}[i%2]
		if got := lookup(t, r, "81.2.69.1").Location.CountryCode; got != want {
			t.Fatalf("after swap %d: %s, want %s", i, got, want)
		}
		time.Sleep(2 * time.Millisecond) // let the closers run between swaps
	}
	cancel()
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d lookups failed", failures.Load(), lookups.Load())
	}
	if seen[0].Load() == 0 || seen[1].Load() == 0 {
		t.Errorf("answers GB=%d FR=%d: both versions should have been seen", seen[0].Load(), seen[1].Load())
	}
	t.Logf("%d lookups over %d swaps", lookups.Load(), swaps)
}

// TestReloadKeepsOldOnBadFile: a corrupt replacement is refused and the old
// database keeps answering; fixing the file is picked up.
func TestReloadKeepsOldOnBadFile(t *testing.T) {
	dir := t.TempDir()
	path := writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(13335, "Cloudflare")})
	r := openResolver(t, Config{DBPaths: []string{path}, CloseGrace: time.Millisecond})
	writeFile(t, path, "garbage")
	r.ReloadFiles()
	if got := lookup(t, r, "1.0.0.1").Location.ASN; got != 13335 {
		t.Fatalf("after a bad file: ASN %d, want the old 13335", got)
	}
	writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(64512, "New")})
	bumpMtime(t, path, time.Second)
	r.ReloadFiles()
	if got := lookup(t, r, "1.0.0.1").Location.ASN; got != 64512 {
		t.Fatalf("after the fix: ASN %d, want 64512", got)
	}
}

// TestRunReloads checks that Run's reload loop picks up a changed file.
func TestRunReloads(t *testing.T) {
	dir := t.TempDir()
	path := writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(1, "one")})
	r := openResolver(t, Config{DBPaths: []string{path}, ReloadInterval: 5 * time.Millisecond, CloseGrace: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	writeDB(t, dir, "asn.mmdb", "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(2, "two")})
	bumpMtime(t, path, time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for lookup(t, r, "1.0.0.1").Location.ASN != 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not reload the database")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
