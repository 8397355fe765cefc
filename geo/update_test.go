package geo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// tarGz packs files the way MaxMind does: GeoLite2-City_20240101/<name>.
func tarGz(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeMaxMind serves /geoip/databases/{edition}/download like MaxMind.
type fakeMaxMind struct {
	mu          sync.Mutex
	archive     []byte
	modified    time.Time // zero: no Last-Modified, If-Modified-Since ignored
	requests    int
	notModified int
}

func (f *fakeMaxMind) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	user, pass, ok := r.BasicAuth()
	if !ok || user != "42" || pass != "secret-key" {
		http.Error(w, "Invalid license key", http.StatusUnauthorized)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/geoip/databases/GeoLite2-") || r.URL.Query().Get("suffix") != "tar.gz" {
		http.NotFound(w, r)
		return
	}
	if !f.modified.IsZero() {
		if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !f.modified.After(ims) {
			f.notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Last-Modified", f.modified.UTC().Format(http.TimeFormat))
	}
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(f.archive)
}

func (f *fakeMaxMind) set(archive []byte, modified time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.archive, f.modified = archive, modified
}

func TestUpdate(t *testing.T) {
	dbV1 := buildDB(t, "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(13335, "Cloudflare")})
	dbV2 := buildDB(t, "GeoLite2-ASN", 6, map[string]mmdbtype.Map{"1.0.0.0/24": asnRec(64512, "Changed")})
	fake := &fakeMaxMind{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	var results []UpdateResult
	opts := UpdateOptions{
		AccountID: "42", LicenseKey: "secret-key", Editions: []string{"GeoLite2-ASN"}, Dir: dir,
		BaseURL: srv.URL + "/geoip/databases/{edition}/download?suffix=tar.gz", Logger: quietLogger(),
		Progress: &bytes.Buffer{}, OnResult: func(r UpdateResult) { results = append(results, r) },
	}
	ctx := context.Background()
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	// First download writes the file, dated like the server's copy.
	fake.set(tarGz(t, map[string][]byte{
		"GeoLite2-ASN_20261101/COPYRIGHT.txt": []byte("(c) MaxMind"), "GeoLite2-ASN_20261101/GeoLite2-ASN.mmdb": dbV1,
	}), day1)
	if err := Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, dbV1)
	first, _ := os.Stat(path)
	if !first.ModTime().Equal(day1) || len(results) != 1 || !results[0].Updated {
		t.Fatalf("mtime %v results %+v", first.ModTime(), results)
	}
	r := openResolver(t, Config{DBPaths: []string{path}})
	if lookup(t, r, "1.0.0.1").Location.ASN != 13335 {
		t.Fatal("downloaded database does not answer")
	}

	// Unchanged on the server: 304, file untouched.
	if err := Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if fake.notModified != 1 || results[1].Updated {
		t.Fatalf("not skipped: notModified=%d results=%+v", fake.notModified, results)
	}
	assertSameFile(t, path, first)

	// A server without Last-Modified sends the same bytes: sha256 says skip.
	fake.set(fake.archive, time.Time{})
	if err := Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if results[2].Updated {
		t.Fatal("identical content rewritten")
	}
	assertSameFile(t, path, first)

	// Wrong key: a clear 401 error, the file untouched.
	bad := opts
	bad.LicenseKey = "wrong"
	err := Update(ctx, bad)
	if sm.ErrorCode(err) != sm.EUNAUTHORIZED || !strings.Contains(err.Error(), "licence key") {
		t.Fatalf("bad credentials: %v", err)
	}

	// Corrupted archives: an error, the old file untouched.
	good := fake.archive
	for name, archive := range map[string][]byte{
		"truncated gzip": good[:len(good)/2],
		"not gzip":       []byte("<html>maintenance</html>"),
		"no mmdb":        tarGz(t, map[string][]byte{"x/README.txt": []byte("hi")}),
		"bad mmdb":       tarGz(t, map[string][]byte{"x/GeoLite2-ASN.mmdb": dbV2[:len(dbV2)-100]}),
	} {
		fake.set(archive, day1.Add(time.Hour))
		if err := Update(ctx, opts); err == nil {
			t.Errorf("%s: no error", name)
		}
		assertFile(t, path, dbV1)
		assertSameFile(t, path, first)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}

	// A new version replaces the file.
	fake.set(tarGz(t, map[string][]byte{"GeoLite2-ASN_20261102/GeoLite2-ASN.mmdb": dbV2}), day1.Add(24*time.Hour))
	if err := Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, dbV2)
	if buf := opts.Progress.(*bytes.Buffer); buf.Len() != 0 {
		t.Errorf("progress written to a non-terminal: %q", buf.String())
	}
}

func TestUpdateOptionsValidated(t *testing.T) {
	err := Update(context.Background(), UpdateOptions{Dir: t.TempDir()})
	if sm.ErrorCode(err) != sm.EINVALID {
		t.Errorf("no credentials: %v", err)
	}
	err = Update(context.Background(), UpdateOptions{AccountID: "1", LicenseKey: "k", Dir: t.TempDir(),
		Editions: []string{"../etc"}, Logger: quietLogger()})
	if sm.ErrorCode(err) != sm.EINVALID {
		t.Errorf("bad edition: %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	var out bytes.Buffer
	p := &progressReader{r: strings.NewReader(strings.Repeat("x", 1<<20)), out: &out, name: "GeoLite2-City", total: 1 << 20}
	buf := make([]byte, 1<<19)
	_, _ = p.Read(buf)
	_, _ = io.Copy(io.Discard, p)
	p.done()
	s := out.String()
	if !strings.HasPrefix(s, "\rGeoLite2-City [") || !strings.Contains(s, " 50.0%") || !strings.Contains(s, "100.0%") || !strings.HasSuffix(s, "\n") {
		t.Errorf("progress = %q", s)
	}
}

func assertFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: content differs (err %v)", path, err)
	}
}

func assertSameFile(t testing.TB, path string, before os.FileInfo) {
	t.Helper()
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(before, now) || !now.ModTime().Equal(before.ModTime()) {
		t.Fatalf("%s was rewritten", path)
	}
}
