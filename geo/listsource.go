package geo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// maxListBytes bounds a downloaded list: the largest real ones (FireHOL
// level 4) are a few MB.
const maxListBytes = 64 << 20

// Threat list kinds, as named in Status.
const (
	KindTor        = "tor"
	KindVPN        = "vpn"
	KindProxy      = "proxy"
	KindDatacenter = "datacenter"
	KindThreat     = "threat"
)

// threatList is the union of the sources of one kind; lookups read the
// table through an atomic pointer, rebuilt and swapped on every change.
type threatList struct {
	kind    string
	sources []*listSource
	table   atomic.Pointer[bart.Lite]
	mu      sync.Mutex // serialises rebuilds
}

func (l *threatList) contains(ip netip.Addr) bool {
	t := l.table.Load()
	return t != nil && t.Lookup(ip)
}

// rebuild makes a new table from the last good copy of every source.
func (l *threatList) rebuild() {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := new(bart.Lite)
	for _, s := range l.sources {
		for _, p := range s.snapshot() {
			t.Insert(p)
		}
	}
	l.table.Store(t)
}

// listSource is one file or https URL of a threat list.
type listSource struct {
	kind      string
	origin    string
	isURL     bool
	cachePath string // "" when no cache dir or a file source

	mu           sync.Mutex
	prefixes     []netip.Prefix // last good copy
	bad          int
	stat         fileStat // file sources
	etag         string   // URL sources: for conditional GETs
	lastModified string
	lastRefresh  time.Time
	lastErr      string
}

func newListSource(kind, origin, cacheDir string) (*listSource, error) {
	s := &listSource{kind: kind, origin: origin}
	lower := strings.ToLower(origin)
	switch {
	case strings.HasPrefix(lower, "https://"):
		s.isURL = true
		if cacheDir != "" {
			sum := sha256.Sum256([]byte(origin))
			s.cachePath = filepath.Join(cacheDir, kind+"-"+hex.EncodeToString(sum[:8])+".txt")
		}
	case strings.Contains(lower, "://"):
		return nil, sm.Errorf(sm.EINVALID, "geo: %s list %q: only file paths and https URLs are allowed", kind, origin)
	}
	return s, nil
}

func (s *listSource) snapshot() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefixes
}

func (s *listSource) setGood(p []netip.Prefix, bad int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefixes, s.bad, s.lastRefresh, s.lastErr = p, bad, at, ""
}

func (s *listSource) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err.Error()
}

// loadFile reads a file source; at start a missing file is an error.
func (s *listSource) loadFile() error {
	st, err := statFile(s.origin)
	if err != nil {
		return sm.Errorf(sm.EINVALID, "geo: %s list %s: %v", s.kind, s.origin, err)
	}
	data, err := os.ReadFile(s.origin)
	if err != nil {
		return sm.Errorf(sm.EINVALID, "geo: %s list %s: %v", s.kind, s.origin, err)
	}
	p, bad, err := parseList(bytes.NewReader(data))
	if err != nil {
		return sm.Errorf(sm.EINVALID, "geo: %s list %s: %v", s.kind, s.origin, err)
	}
	s.setGood(p, bad, time.Now())
	s.mu.Lock()
	s.stat = st
	s.mu.Unlock()
	return nil
}

// reloadFileIfChanged rereads a changed file; an empty or unreadable new
// version keeps the old list.
func (s *listSource) reloadFileIfChanged() (bool, error) {
	st, err := statFile(s.origin)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	same := s.stat.same(st)
	s.mu.Unlock()
	if same {
		return false, nil
	}
	data, err := os.ReadFile(s.origin)
	if err != nil {
		return false, err
	}
	p, bad, err := parseList(bytes.NewReader(data))
	if err == nil && len(p) == 0 {
		err = errors.New("the new version is empty: keeping the old list")
	}
	if err != nil {
		return false, err
	}
	s.setGood(p, bad, time.Now())
	s.mu.Lock()
	s.stat = st
	s.mu.Unlock()
	return true, nil
}

// loadCache loads the last good download, if any; its mtime counts as the
// time of the last refresh.
func (s *listSource) loadCache() bool {
	if s.cachePath == "" {
		return false
	}
	data, err := os.ReadFile(s.cachePath)
	if err != nil {
		return false
	}
	p, bad, err := parseList(bytes.NewReader(data))
	if err != nil || len(p) == 0 {
		return false
	}
	at := time.Now()
	if st, err := statFile(s.cachePath); err == nil {
		at = st.mtime
	}
	s.setGood(p, bad, at)
	return true
}

// refreshURL downloads the list. A failure, a non-200 answer or an empty
// body leaves the last good copy in place. It reports whether it changed.
func (s *listSource) refreshURL(ctx context.Context, client *http.Client) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.origin, nil)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	if len(s.prefixes) > 0 {
		if s.etag != "" {
			req.Header.Set("If-None-Match", s.etag)
		}
		if s.lastModified != "" {
			req.Header.Set("If-Modified-Since", s.lastModified)
		}
	}
	s.mu.Unlock()
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		s.mu.Lock()
		s.lastRefresh, s.lastErr = time.Now(), ""
		s.mu.Unlock()
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes+1))
	if err != nil {
		return false, err
	}
	if len(data) > maxListBytes {
		return false, fmt.Errorf("list larger than %d bytes", maxListBytes)
	}
	p, bad, err := parseList(bytes.NewReader(data))
	if err != nil {
		return false, err
	}
	if len(p) == 0 {
		return false, errors.New("downloaded list is empty: keeping the last good copy")
	}
	if s.cachePath != "" {
		if err := writeFileAtomic(s.cachePath, data); err != nil {
			return false, fmt.Errorf("cache: %w", err)
		}
	}
	s.setGood(p, bad, time.Now())
	s.mu.Lock()
	s.etag, s.lastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	s.mu.Unlock()
	return true, nil
}

// writeFileAtomic writes data to a temp file in path's directory and renames
// it over path, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
