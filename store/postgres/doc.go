// Package postgres is the PostgreSQL store of Magic Session Manager: hand-written
// SQL over a pgx connection pool, with forward-only migrations embedded in the
// binary (migrations/NNNN_name.sql, recorded in schema_migrations and applied
// under an advisory lock, so instances that start together apply each once).
//
// Atomicity lives in the SQL, never in Go locks, so any number of instances
// can share one database:
//   - refresh rotation is a conditional UPDATE (replaced_at IS NULL and the
//     session not ended): of concurrent rotations exactly one wins;
//   - a magic link is consumed by a conditional UPDATE ... RETURNING;
//   - outbox claims take rows with FOR UPDATE SKIP LOCKED and lease them;
//   - event appends lock the one-row chain head, so Seq has no gaps and each
//     event's hash links to the one before it;
//   - touches lock their sessions in id order, so batches cannot deadlock.
//
// Open takes a postgres:// URL; its search_path selects the schema and
// pool_max_conns sizes the pool (default: 4 or the number of CPUs). Stats
// runs four queries at once, so a pool of at least 4 connections serves it
// without waiting.
//
// Dashboard aggregates never scan every session: live sessions are counted
// from a partial index, and logins and ended sessions per UTC day come from
// the session_days rollup that statement triggers on sessions keep exact.
package postgres
