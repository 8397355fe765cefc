// Package sqlite is the embedded store of sessionmanager: one SQLite file
// (modernc.org/sqlite, pure Go) in WAL mode, hand-written SQL, embedded
// forward-only migrations.
//
// SQLite allows one writer at a time, so the store keeps one connection for
// writes (every transaction is BEGIN IMMEDIATE, so a transaction that reads
// then writes never fails with SQLITE_BUSY halfway) and a separate pool for
// reads, which WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store implements every store role of the root package (storetest.Store) on one SQLite file.
type Store struct {
	write *sql.DB // one connection: SQLite has one writer
	read  *sql.DB // pool of read-only connections
	// chain signs the audit chain's head in every append (nil: unsigned).
	chain atomic.Pointer[sessionmanager.ChainSigning]
}

// The Manager's Store; the tests pass it to storetest.Run, which takes every
// role (storetest.Store).
var _ sessionmanager.Store = (*Store)(nil)

// Open opens (creating it and its directory if needed) the database at path,
// applies pending migrations and returns the store.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		// The path becomes a URI filename: ? and # would cut it short.
		return nil, sessionmanager.Errorf(sessionmanager.EINVALID, "sqlite: the database path is empty or contains ? or #")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	params := url.Values{}
	params.Set("_busy_timeout", "10000")
	params.Set("_journal_mode", "WAL")
	params.Set("_foreign_keys", "1")
	params.Set("_synchronous", "NORMAL")
	params.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s := &Store{write: write}
	if err := s.migrate(ctx); err != nil {
		_ = write.Close()
		return nil, err
	}
	if err := s.backfillUserKeys(ctx); err != nil {
		_ = write.Close()
		return nil, err
	}
	params.Set("_query_only", "1")
	params.Del("_txlock")
	read, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	s.read = read
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that both connections work.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database, first letting SQLite refresh the statistics
// its query planner uses (cheap: only tables that changed much).
func (s *Store) Close() error {
	_, optErr := s.write.Exec(`PRAGMA optimize`)
	errs := []error{optErr}
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE) and commits it.
// Inside fn, use only tx: the write pool has a single connection.
// A full disk, an I/O error or a database locked past the busy timeout is
// EUNAVAILABLE (503, try again), not an internal error.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(fmt.Errorf("sqlite: begin: %w", err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return unavailable(err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(fmt.Errorf("sqlite: commit: %w", err))
	}
	return nil
}

// unavailable maps SQLite's "cannot write now" errors to EUNAVAILABLE and
// leaves every other error as it is.
func unavailable(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL:
		return &sessionmanager.Error{Code: sessionmanager.EUNAVAILABLE, Message: "storage is full; try again later", RetryAfterSeconds: 5}
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return &sessionmanager.Error{Code: sessionmanager.EUNAVAILABLE, Message: "storage is unavailable; try again", RetryAfterSeconds: 1}
	}
	return err
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFound is the ENOTFOUND error for a missing row of kind.
func notFound(kind string) error {
	return sessionmanager.Errorf(sessionmanager.ENOTFOUND, "%s not found", kind)
}

// mustAffect turns "no row changed" into ENOTFOUND.
func mustAffect(res sql.Result, err error, kind string) error {
	if err != nil {
		return fmt.Errorf("sqlite: update %s: %w", kind, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: update %s: %w", kind, err)
	}
	if n == 0 {
		return notFound(kind)
	}
	return nil
}
