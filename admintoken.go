package sessionmanager

import (
	"context"
	"strings"
	"time"
)

// AdminTokenPrefix starts every admin API token, so leaked tokens are easy
// to recognise (and to scan for).
const AdminTokenPrefix = "msm_"

// NewAdminToken creates an admin API token and returns it in clear: the one
// time it is shown. Only its lookup hash is stored.
func NewAdminToken(ctx context.Context, st AdminStore, sec Secrets, name, scope string, now time.Time) (string, *AdminToken, error) {
	name = strings.TrimSpace(name)
	bad := map[string]string{}
	if name == "" || len(name) > 100 {
		bad["name"] = "is required (at most 100 characters)"
	}
	if scope != ScopeRead && scope != ScopeWrite && scope != ScopeService {
		bad["scope"] = "must be read, write or service"
	}
	if len(bad) > 0 {
		return "", nil, InvalidFields(bad)
	}
	raw, _, err := sec.NewToken()
	if err != nil {
		return "", nil, err
	}
	plain := AdminTokenPrefix + raw
	t := &AdminToken{ID: newID(), Name: name, Hash: sec.LookupHash(plain), Scope: scope, CreatedAt: now}
	if err := st.CreateAdminToken(ctx, t); err != nil {
		return "", nil, err
	}
	return plain, t, nil
}

// ScopeAllows reports whether a token of scope have may do what need requires:
// write includes read; service is separate.
func ScopeAllows(have, need string) bool {
	switch need {
	case ScopeRead:
		return have == ScopeRead || have == ScopeWrite
	case ScopeWrite:
		return have == ScopeWrite
	case ScopeService:
		return have == ScopeService || have == ScopeWrite
	}
	return false
}
