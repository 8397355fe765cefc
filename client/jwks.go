package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// errUnknownKey is a key id the server does not publish.
var errUnknownKey = errors.New("client: unknown key id")

// keyCache holds the server's Ed25519 public keys by key id. A stale set
// or an unknown kid triggers a refetch, at most once per minRefetch, so a
// flood of forged kids cannot turn into a flood of JWKS requests. A set is
// fresh for maxAge, or less when the response says so (Cache-Control
// max-age less the Age a proxy added): a key the server withdrew is
// refused once the set that still lists it is stale and refetched.
type keyCache struct {
	url        string
	http       *http.Client
	maxAge     time.Duration
	minRefetch time.Duration

	mu         sync.RWMutex
	keys       map[string]ed25519.PublicKey
	freshUntil time.Time
	triedAt    time.Time
}

func (k *keyCache) get(ctx context.Context, kid string, now time.Time) (ed25519.PublicKey, error) {
	k.mu.RLock()
	key, ok := k.keys[kid]
	fresh := now.Before(k.freshUntil)
	k.mu.RUnlock()
	if ok && fresh {
		return key, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok = k.keys[kid]
	if ok && now.Before(k.freshUntil) {
		return key, nil // another caller refetched meanwhile
	}
	if !k.triedAt.IsZero() && now.Sub(k.triedAt) < k.minRefetch {
		if ok {
			return key, nil // stale but known: keep serving until a refetch is allowed
		}
		return nil, errUnknownKey
	}
	k.triedAt = now
	keys, freshFor, err := k.fetch(ctx)
	if err != nil {
		if ok {
			return key, nil // the server is unreachable: availability first
		}
		return nil, err
	}
	// The fetched set replaces the old one whole: a key it no longer
	// lists (withdrawn, expired) is refused from now on.
	k.keys, k.freshUntil = keys, now.Add(min(k.maxAge, freshFor))
	if key, ok = keys[kid]; !ok {
		return nil, errUnknownKey
	}
	return key, nil
}

// freshness is how long a JWKS response may be used: Cache-Control
// max-age less Age (what a proxy already held it), or unbounded (the
// caller's maxAge applies) when the response does not say; no-store and
// no-cache mean at once stale.
func freshness(h http.Header) time.Duration {
	const unbounded = time.Duration(math.MaxInt64)
	cc := strings.ToLower(h.Get("Cache-Control"))
	if cc == "" {
		return unbounded
	}
	fresh := unbounded
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		if d == "no-store" || d == "no-cache" {
			return 0
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 {
				return 0
			}
			fresh = time.Duration(n) * time.Second
		}
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 32); err == nil && age > 0 && fresh != unbounded {
		fresh = max(fresh-time.Duration(age)*time.Second, 0)
	}
	return fresh
}

// fetch reads the JWKS, keeping only Ed25519 signing keys, and says how
// long the response may be used.
func (k *keyCache) fetch(ctx context.Context) (map[string]ed25519.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("client: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("client: fetch JWKS: status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("client: read JWKS: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, 0, fmt.Errorf("client: parse JWKS: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, jwk := range set.Keys {
		if pub, ok := jwk.Key.(ed25519.PublicKey); ok && jwk.KeyID != "" && (jwk.Use == "" || jwk.Use == "sig") {
			keys[jwk.KeyID] = pub
		}
	}
	return keys, freshness(resp.Header), nil
}
