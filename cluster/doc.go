// Package cluster lets many sessionmanager instances work together: a Bus to
// broadcast changes (in process, Redis pub/sub or Postgres LISTEN/NOTIFY),
// a shared last-seen buffer in Redis, leader election with fencing tokens
// (in process, Postgres advisory locks or Redis), counters and rate limiters
// (in memory or Redis) and a Redis health probe.
//
// Every Redis or Postgres link reconnects by itself; the store stays the
// source of truth, so a lost message or note costs at most a short cache TTL.
// See docs/CLUSTER.md.
package cluster
