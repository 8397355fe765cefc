package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// fencingTableSQL creates the counter of leaderships per name. It lives in
// the connection's search_path schema.
const fencingTableSQL = `CREATE TABLE IF NOT EXISTS cluster_leader_fencing (
	name  text PRIMARY KEY,
	token bigint NOT NULL
)`

const nextFencingSQL = `INSERT INTO cluster_leader_fencing (name, token) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET token = cluster_leader_fencing.token + 1
RETURNING token`

// PostgresElector elects with session-level advisory locks: the lease is
// held while its dedicated connection lives, so a dead process (or a
// terminated backend) frees it at once. Advisory locks span the whole
// database, so the lock of a deployment in a schema of its own (search_path)
// is keyed by that schema too: two deployments sharing a database in two
// schemas each elect their own leaders (before, one led the other's jobs
// too, and the other's nightly purge never ran). In the default schema
// (public) the key is what it always was, so a rolling upgrade never has
// two leaders of one job.
type PostgresElector struct {
	pool  *pgxpool.Pool
	scope string // the schema the deployment's tables live in; "" for public
}

// NewPostgresElector creates the fencing table if needed.
func NewPostgresElector(ctx context.Context, pool *pgxpool.Pool) (*PostgresElector, error) {
	if _, err := pool.Exec(ctx, fencingTableSQL); err != nil && !isDuplicateObject(err) {
		return nil, sm.WrapError(sm.EUNAVAILABLE, "postgres leader: create fencing table", err)
	}
	var schema string
	if err := pool.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return nil, sm.WrapError(sm.EUNAVAILABLE, "postgres leader: current schema", err)
	}
	if schema == "public" {
		schema = ""
	}
	return &PostgresElector{pool: pool, scope: schema}, nil
}

// isDuplicateObject reports the error two instances racing on CREATE TABLE
// IF NOT EXISTS may get: the table exists, which is what we wanted.
func isDuplicateObject(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07")
}

// lockKey hashes a job name (and the deployment's schema, unless public)
// to the advisory lock key.
func lockKey(scope, name string) int64 {
	h := fnv.New64a()
	if scope != "" {
		_, _ = h.Write([]byte("sessionmanager/leader/" + scope + "/" + name))
	} else {
		_, _ = h.Write([]byte("sessionmanager/leader/" + name))
	}
	return int64(h.Sum64())
}

// Elect tries once to take the advisory lock of name; on success the
// connection leaves the pool and carries the lease. ttl is unused: the
// lease lives exactly as long as the connection.
func (e *PostgresElector) Elect(ctx context.Context, name string, _ time.Duration) (Lease, bool, error) {
	pc, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, false, sm.WrapError(sm.EUNAVAILABLE, "postgres leader", err)
	}
	key := lockKey(e.scope, name)
	var locked bool
	if err := pc.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&locked); err != nil {
		pc.Release()
		return nil, false, sm.WrapError(sm.EUNAVAILABLE, fmt.Sprintf("postgres leader: elect %q", name), err)
	}
	if !locked {
		pc.Release()
		return nil, false, nil
	}
	conn := pc.Hijack()
	var fencing int64
	if err := conn.QueryRow(ctx, nextFencingSQL, name).Scan(&fencing); err != nil {
		_ = conn.Close(context.Background()) // frees the lock
		return nil, false, sm.WrapError(sm.EUNAVAILABLE, fmt.Sprintf("postgres leader: fencing for %q", name), err)
	}
	return &pgLease{conn: conn, key: key, fencing: fencing, pid: conn.PgConn().PID()}, true, nil
}

type pgLease struct {
	mu      sync.Mutex
	conn    *pgx.Conn // nil once released or lost
	key     int64
	fencing int64
	pid     uint32
}

func (l *pgLease) Fencing() int64 { return l.fencing }

// Renew checks the connection, and with it the lock, is still alive. Any
// failure closes it: the server then frees the lock, and the holder must
// stop acting.
func (l *pgLease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return ErrLeaseLost
	}
	if err := l.conn.Ping(ctx); err != nil {
		_ = l.conn.Close(context.Background())
		l.conn = nil
		return fmt.Errorf("%w: %v", ErrLeaseLost, err)
	}
	return nil
}

// Release unlocks, so the next leader can take over at once (a closed
// connection alone frees the lock only when the server notices), then
// closes the connection.
func (l *pgLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key)
	if cerr := l.conn.Close(ctx); err == nil {
		err = cerr
	}
	l.conn = nil
	return err
}
