package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Store implements every store role of the root package (storetest.Store) on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// chain signs the audit chain's head in every append (nil: unsigned).
	chain atomic.Pointer[sm.ChainSigning]
	// appends groups concurrent AppendEvent calls into one transaction.
	appends appendQueue
}

// The Manager's Store; the tests pass it to storetest.Run, which takes every
// role (storetest.Store).
var _ sm.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or DSN; a
// search_path parameter selects the schema) and applies pending migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url %s: %w", redact(url), err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect %s: %w", redact(url), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := backfillUserKeys(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Pool returns the connection pool, for LISTEN/NOTIFY and advisory locks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return sm.Errorf(sm.EUNAVAILABLE, "database unavailable")
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction, committed when fn returns nil.
// A lost connection (at begin, commit, or in a statement fn did not map)
// is EUNAVAILABLE (503, retry): a database restart is not an internal
// error. As with any interrupted commit, the outcome of one lost at COMMIT
// is unknown to the caller either way.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, fn)
	var de *sm.Error
	if err != nil && !errors.As(err, &de) && unavailable(err) {
		return &sm.Error{Code: sm.EUNAVAILABLE, Message: "database unavailable; try again", RetryAfterSeconds: 1}
	}
	return err
}

// redact hides the password of a URL in error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(database url)"
	}
	return u.Redacted()
}
