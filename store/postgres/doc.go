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
// runs five queries at once; with fewer connections some wait their turn.
//
// Dashboard aggregates never scan every session, nor every live session:
// statement triggers on sessions and users keep exact counters
// (session_days: logins and summed session lengths per UTC day of login;
// session_live: live and active sessions per country, device type, browser
// and OS; user_counts: users and blocked users; session_hours: logins and
// summed lengths per hour of login; session_ticks: live sessions per ten
// seconds of last_seen). The sliding windows and the presence counts add
// to whole hours and ticks at most half an hour of logins and five seconds
// of last-seen times from indexes.
//
// Free-text search uses pg_trgm GIN indexes when the extension could be
// created (migration 0003; without it search is correct, only slower): the
// users matching by email or username and the sessions matching by IP,
// browser, OS or city are two searches, each planned on its own.
package postgres
