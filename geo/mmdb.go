package geo

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// dbHandle is one opened version of a database file. Lookups hold a
// reference while they read it, so a replaced handle is closed only when
// the grace delay has passed and no lookup is inside.
type dbHandle struct {
	reader *maxminddb.Reader
	layout Layout
	family family
	stat   fileStat
	loaded time.Time
	refs   atomic.Int64
}

// fileStat is what the reload loop compares to see a file change.
type fileStat struct {
	size  int64
	mtime time.Time
}

func (a fileStat) same(b fileStat) bool { return a.size == b.size && a.mtime.Equal(b.mtime) }

func statFile(path string) (fileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}, err
	}
	return fileStat{size: fi.Size(), mtime: fi.ModTime()}, nil
}

// dbSource is one configured .mmdb path and its current handle.
type dbSource struct {
	path    string
	current atomic.Pointer[dbHandle]
	status  reloadStatus
}

// openDB reads the whole file into memory (not mmap): an operator who
// overwrites the file in place (cp) must not corrupt lookups in flight.
func openDB(path string) (*dbHandle, error) {
	st, err := statFile(path)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: database %s: %v", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: database %s: %v", path, err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: database %s is not a MaxMind DB: %v", path, err)
	}
	if len(r.Metadata.Description) == 0 {
		// ip-location-db files have no description; Verify insists on one,
		// though readers need none. Everything else is still verified.
		r.Metadata.Description = map[string]string{"en": "(none)"}
	}
	if err := r.Verify(); err != nil {
		return nil, sm.Errorf(sm.EINVALID, "geo: database %s is corrupt: %v", path, err)
	}
	layout, fam, ok := detectLayout(r)
	if !ok {
		return nil, sm.Errorf(sm.EINVALID, "geo: database %s: unknown layout (type %q)", path, r.Metadata.DatabaseType)
	}
	return &dbHandle{reader: r, layout: layout, family: fam, stat: st, loaded: time.Now()}, nil
}

// acquire returns the current handle with a reference held, or nil.
func (s *dbSource) acquire() *dbHandle {
	for {
		h := s.current.Load()
		if h == nil {
			return nil
		}
		h.refs.Add(1)
		// Re-check: if a swap happened between Load and Add, the closer may
		// already have counted zero refs; retry on the new handle.
		if s.current.Load() == h {
			return h
		}
		h.refs.Add(-1)
	}
}

// lookup adds what the database knows about ip to res.
func (s *dbSource) lookup(ip netip.Addr, res *sm.GeoResult) error {
	h := s.acquire()
	if h == nil {
		return nil
	}
	defer h.refs.Add(-1)
	if !h.family.has(ip) {
		return nil
	}
	r := h.reader.Lookup(ip)
	if !r.Found() {
		return r.Err()
	}
	// One case per layout, each with its own concrete struct: decoding
	// through a generic or interface helper would move the struct to the
	// heap (one allocation per lookup).
	var err error
	switch h.layout {
	case LayoutCity:
		rec := cityRecord{}
		rec.Location.Latitude, rec.Location.Longitude = noCoord, noCoord
		if err = r.Decode(&rec); err == nil {
			rec.apply(res)
		}
	case LayoutCountry:
		var rec countryRecord
		if err = r.Decode(&rec); err == nil {
			rec.apply(res)
		}
	case LayoutFlatCity:
		rec := flatCityRecord{Latitude: noCoord, Longitude: noCoord}
		if err = r.Decode(&rec); err == nil {
			rec.apply(res)
		}
	case LayoutASN:
		var rec asnRecord
		if err = r.Decode(&rec); err == nil {
			rec.apply(res)
		}
	case LayoutISP:
		var rec ispRecord
		if err = r.Decode(&rec); err == nil {
			rec.apply(res)
		}
	case LayoutAnonymous:
		var rec anonRecord
		if err = r.Decode(&rec); err == nil {
			rec.apply(res)
		}
	}
	if err != nil {
		return fmt.Errorf("geo: %s: %w", s.path, err)
	}
	return nil
}

// swap installs h and closes the previous handle once it is unused.
func (s *dbSource) swap(h *dbHandle, grace time.Duration) {
	old := s.current.Swap(h)
	if old != nil {
		closeWhenIdle(old, grace)
	}
}

// closeWhenIdle closes h after grace, and later still if a lookup is
// inside it then.
func closeWhenIdle(h *dbHandle, grace time.Duration) {
	time.AfterFunc(grace, func() {
		if h.refs.Load() > 0 {
			closeWhenIdle(h, grace)
			return
		}
		_ = h.reader.Close()
	})
}

// reloadIfChanged reopens the file when its size or mtime changed. A file
// that fails to open keeps the old handle; the next tick tries again.
func (s *dbSource) reloadIfChanged(grace time.Duration) (bool, error) {
	st, err := statFile(s.path)
	if err != nil {
		return false, err
	}
	if cur := s.current.Load(); cur != nil && cur.stat.same(st) {
		return false, nil
	}
	h, err := openDB(s.path)
	if err != nil {
		return false, err
	}
	s.swap(h, grace)
	return true, nil
}

// close closes the current handle at once (the Resolver is closing).
func (s *dbSource) close() {
	if h := s.current.Swap(nil); h != nil {
		closeWhenIdle(h, 0)
	}
}
