package cluster

import (
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// FailMode is what an instance does while Redis is unreachable
// (docs/CLUSTER.md).
type FailMode string

// Fail modes.
const (
	// FailOpen keeps serving and reads session state from the store,
	// bypassing the local cache, so a revocation still holds at once.
	FailOpen FailMode = "open"
	// FailClosed refuses authenticated requests (503) until Redis is back.
	FailClosed FailMode = "closed"
)

// ParseFailMode parses "open" (also the default for "") or "closed".
func ParseFailMode(s string) (FailMode, error) {
	switch FailMode(strings.ToLower(strings.TrimSpace(s))) {
	case "", FailOpen:
		return FailOpen, nil
	case FailClosed:
		return FailClosed, nil
	}
	return "", sm.Errorf(sm.EINVALID, "fail mode must be %q or %q", FailOpen, FailClosed)
}

// Serve reports whether authenticated requests may be served given
// whether Redis is healthy.
func (m FailMode) Serve(redisHealthy bool) bool {
	return redisHealthy || m != FailClosed
}

// BypassCache reports whether session state must be read from the store
// instead of the local cache: while Redis is down, revocation messages may
// be lost, so the cache cannot be trusted.
func (m FailMode) BypassCache(redisHealthy bool) bool {
	return !redisHealthy
}
