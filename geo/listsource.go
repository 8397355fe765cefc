package geo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
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

// shrinkConfirmations is how many identical downloads in a row it takes
// to accept a list with fewer than half the records of the last good copy
// (a feed may really shrink; a truncated download rarely repeats).
const shrinkConfirmations = 3

// retryBase is the first retry delay after a failed download; it doubles
// on each failure in a row, up to the feed's refresh interval.
const retryBase = 5 * time.Minute

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

// listSource is one file, https URL or default feed of a threat list.
type listSource struct {
	name      string // status name: the feed's, else kind + base name
	kind      string
	origin    string
	shown     string // origin without credentials, for the status and logs
	isURL     bool
	refresh   time.Duration // URL sources
	disabled  string        // why a default feed is off ("": on)
	cachePath string        // "" when no cache dir or a file source
	license   string
	attrib    string
	attribURL string
	now       func() time.Time // schedules downloads; nil: time.Now

	fetching sync.Mutex // one download of this source at a time

	mu           sync.Mutex
	prefixes     []netip.Prefix // last good copy
	bad          int
	format       string
	stat         fileStat // file sources: the version in use
	pending      fileStat // file sources: a changed version seen once, not yet read
	etag         string   // URL sources: for conditional GETs
	lastModified string
	lastRefresh  time.Time // last good download (or 304) or file load
	lastAttempt  time.Time
	lastErr      string
	failures     int       // failed downloads in a row
	next         time.Time // next download
	sum          [32]byte  // of the last good download's body
	shrinkSum    [32]byte  // a shrunken download seen shrinkSeen times in a row
	shrinkSeen   int
}

// cacheMeta is kept beside a cached copy (<copy>.meta.json).
type cacheMeta struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	Downloaded   time.Time `json:"downloaded"` // last good download or 304
}

// clockNow is the time downloads are scheduled by.
func (s *listSource) clockNow() time.Time {
	if s.now == nil {
		return time.Now()
	}
	return s.now()
}

func newListSource(kind, origin, cacheDir string) (*listSource, error) {
	s := &listSource{kind: kind, origin: origin, shown: origin, name: kind + "-" + path.Base(origin)}
	lower := strings.ToLower(origin)
	switch {
	case strings.HasPrefix(lower, "https://"):
		s.isURL = true
		if u, err := url.Parse(origin); err == nil {
			s.name = kind + "-" + u.Host + strings.TrimSuffix(u.Path, "/")
			u.User = nil
			s.shown = u.String()
		}
		if cacheDir != "" {
			sum := sha256.Sum256([]byte(origin))
			s.cachePath = filepath.Join(cacheDir, kind+"-"+hex.EncodeToString(sum[:8])+".list")
		}
	case strings.Contains(lower, "://"):
		return nil, sm.Errorf(sm.EINVALID, "geo: %s list %q: only file paths and https URLs are allowed", kind, origin)
	}
	return s, nil
}

func newFeedSource(f Feed, cacheDir string) (*listSource, error) {
	s, err := newListSource(f.Kind, f.URL, cacheDir)
	if err != nil {
		return nil, err
	}
	if !s.isURL {
		return nil, sm.Errorf(sm.EINVALID, "geo: feed %s: %q is not an https URL", f.Name, f.URL)
	}
	s.name, s.refresh, s.disabled = f.Name, f.Refresh, f.Disabled
	if s.refresh <= 0 {
		s.refresh = DefaultRefreshInterval
	}
	s.license, s.attrib, s.attribURL = f.License, f.Attribution, f.AttributionURL
	if s.cachePath != "" {
		s.cachePath = filepath.Join(cacheDir, f.Name+"-"+strings.TrimPrefix(filepath.Base(s.cachePath), f.Kind+"-"))
	}
	return s, nil
}

func (s *listSource) snapshot() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefixes
}

func (s *listSource) setGood(fd feedData, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefixes, s.bad, s.format, s.lastRefresh, s.lastErr = fd.prefixes, fd.bad, fd.format, at, ""
	s.failures, s.shrinkSeen = 0, 0
}

func (s *listSource) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err.Error()
}

// loadFile reads a file source; at start a missing file, or one in no
// supported format, is an error naming it.
func (s *listSource) loadFile() error {
	st, err := statFile(s.origin)
	if err != nil {
		return sm.Errorf(sm.EINVALID, "geo: %s list %s: %v", s.kind, s.origin, err)
	}
	data, err := os.ReadFile(s.origin)
	if err != nil {
		return sm.Errorf(sm.EINVALID, "geo: %s list %s: %v", s.kind, s.origin, err)
	}
	fd, err := parseFeed(data)
	if err != nil {
		return sm.Errorf(sm.EINVALID, "geo: %s list %s: %v", s.kind, s.origin, err)
	}
	s.setGood(fd, s.clockNow())
	s.mu.Lock()
	s.stat = st
	s.mu.Unlock()
	return nil
}

// reloadFileIfChanged rereads a changed file once its size and mtime have
// stayed the same across two checks in a row, so that a file being written
// in place is not read half-written; an empty, unreadable or unrecognised
// new version keeps the old list.
func (s *listSource) reloadFileIfChanged() (bool, error) {
	st, err := statFile(s.origin)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	same, settled := s.stat.same(st), s.pending.same(st)
	if !same && !settled {
		s.pending = st
	}
	s.mu.Unlock()
	if same || !settled {
		return false, nil
	}
	data, err := os.ReadFile(s.origin)
	if err != nil {
		return false, err
	}
	fd, err := parseFeed(data)
	if err == nil && len(fd.prefixes) == 0 {
		err = errors.New("the new version is empty: keeping the old list")
	}
	if err != nil {
		return false, err
	}
	s.setGood(fd, s.clockNow())
	s.mu.Lock()
	s.stat, s.pending = st, fileStat{}
	s.mu.Unlock()
	return true, nil
}

// loadCache loads the last good download and its validators, if any. The
// time of the last good download comes from the meta file (else the copy's
// mtime).
func (s *listSource) loadCache() bool {
	if s.cachePath == "" {
		return false
	}
	data, err := os.ReadFile(s.cachePath)
	if err != nil {
		return false
	}
	fd, err := parseFeed(data)
	if err != nil || len(fd.prefixes) == 0 {
		return false
	}
	at := s.clockNow()
	if st, err := statFile(s.cachePath); err == nil {
		at = st.mtime
	}
	var meta cacheMeta
	if raw, err := os.ReadFile(s.cachePath + ".meta.json"); err == nil && json.Unmarshal(raw, &meta) == nil && meta.URL == s.shown {
		if !meta.Downloaded.IsZero() {
			at = meta.Downloaded
		}
	} else {
		meta = cacheMeta{}
	}
	s.setGood(fd, at)
	s.mu.Lock()
	s.sum, s.etag, s.lastModified = sha256.Sum256(data), meta.ETag, meta.LastModified
	s.mu.Unlock()
	return true
}

// writeMeta records the validators and the time of the last good download
// beside the cached copy.
func (s *listSource) writeMeta() error {
	if s.cachePath == "" {
		return nil
	}
	s.mu.Lock()
	meta := cacheMeta{URL: s.shown, ETag: s.etag, LastModified: s.lastModified, Downloaded: s.lastRefresh.UTC()}
	s.mu.Unlock()
	raw, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.cachePath+".meta.json", raw)
}

// refreshURL downloads the list (conditional GET when there is a copy). A
// failure, a non-200 answer, an empty, unrecognised or truncated body, or
// one with fewer than half the records of the last good copy leaves that
// copy in place; a 304 keeps it and counts as a success. It reports
// whether the list changed.
func (s *listSource) refreshURL(ctx context.Context, client *http.Client) (changed bool, err error) {
	now := s.clockNow()
	s.mu.Lock()
	s.lastAttempt = now
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.lastErr = err.Error()
			s.failures++
			s.next = s.clockNow().Add(jitter(min(s.refresh, retryBase<<min(s.failures-1, 10)), rand.Int64N))
		} else {
			s.next = s.clockNow().Add(jitter(s.refresh, rand.Int64N))
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.origin, nil)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	prev := len(s.prefixes)
	if prev > 0 {
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
	if resp.StatusCode == http.StatusNotModified && prev > 0 {
		s.mu.Lock()
		s.lastRefresh, s.lastErr, s.failures = now, "", 0
		s.mu.Unlock()
		if err := s.writeMeta(); err != nil {
			return false, fmt.Errorf("cache: %w", err)
		}
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes+1))
	if err != nil {
		return false, fmt.Errorf("download cut: %w", err)
	}
	if len(data) > maxListBytes {
		return false, fmt.Errorf("list larger than %d bytes", maxListBytes)
	}
	fd, err := parseFeed(data)
	if err != nil {
		return false, fmt.Errorf("%w: keeping the last good copy", err)
	}
	if len(fd.prefixes) == 0 {
		return false, errors.New("downloaded list is empty: keeping the last good copy")
	}
	if n := len(fd.prefixes); n < prev/2 {
		sum := sha256.Sum256(data)
		s.mu.Lock()
		if s.shrinkSum == sum {
			s.shrinkSeen++
		} else {
			s.shrinkSum, s.shrinkSeen = sum, 1
		}
		seen := s.shrinkSeen
		s.mu.Unlock()
		if seen < shrinkConfirmations {
			return false, fmt.Errorf("downloaded list has %d records, fewer than half of the last good copy's %d (truncated?): keeping the last good copy until the same list comes %d times in a row", n, prev, shrinkConfirmations)
		}
	}
	// The same content again (a server without validators): nothing to
	// rebuild, but the copy is confirmed current.
	sum := sha256.Sum256(data)
	s.mu.Lock()
	same := prev > 0 && sum == s.sum
	s.mu.Unlock()
	// The new list is used even when the disk is full; the error shows.
	var cacheErr error
	if s.cachePath != "" && !same {
		cacheErr = writeFileAtomic(s.cachePath, data)
	}
	s.setGood(fd, now)
	s.mu.Lock()
	s.sum, s.etag, s.lastModified = sum, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	s.mu.Unlock()
	if cacheErr == nil {
		cacheErr = s.writeMeta()
	}
	if cacheErr != nil {
		return !same, fmt.Errorf("cache: %w", cacheErr)
	}
	return !same, nil
}

// jitter spreads d by +/- 10% (randN(n) is uniform in [0, n)), so that a
// fleet started together does not download together.
func jitter(d time.Duration, randN func(int64) int64) time.Duration {
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(randN(spread+1))
}

// scheduleFirst sets the first download of a URL source: at once when it
// has no copy or a stale one; else when the copy comes due (jittered), at
// the earliest after a random delay of up to a tenth of the interval.
func (s *listSource) scheduleFirst(now time.Time, randN func(int64) int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.prefixes) == 0 || now.Sub(s.lastRefresh) >= s.refresh {
		s.next = now
		return
	}
	due := s.lastRefresh.Add(jitter(s.refresh, randN))
	earliest := now.Add(time.Duration(randN(int64(s.refresh)/10 + 1)))
	s.next = due
	if due.Before(earliest) {
		s.next = earliest
	}
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
