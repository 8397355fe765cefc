// Package postgres is the PostgreSQL store of Magic Session Manager: hand-written
// SQL over a pgx connection pool, with forward-only migrations embedded in the
// binary. Atomicity (refresh rotation, single-use links, outbox claims, the
// event hash chain) lives in the SQL, never in Go locks, so any number of
// instances can share one database.
package postgres
