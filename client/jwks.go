package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// errUnknownKey is a key id the server does not publish.
var errUnknownKey = errors.New("client: unknown key id")

// keyCache holds the server's Ed25519 public keys by key id. A stale set
// or an unknown kid triggers a refetch, at most once per minRefetch, so a
// flood of forged kids cannot turn into a flood of JWKS requests.
type keyCache struct {
	url        string
	http       *http.Client
	maxAge     time.Duration
	minRefetch time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
	triedAt   time.Time
}

func (k *keyCache) get(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	key, ok := k.keys[kid]
	stale := now.Sub(k.fetchedAt) > k.maxAge
	if ok && !stale {
		return key, nil
	}
	if !k.triedAt.IsZero() && now.Sub(k.triedAt) < k.minRefetch {
		if ok {
			return key, nil // stale but known: keep serving until a refetch is allowed
		}
		return nil, errUnknownKey
	}
	k.triedAt = now
	keys, err := k.fetch(ctx)
	if err != nil {
		if ok {
			return key, nil
		}
		return nil, err
	}
	k.keys, k.fetchedAt = keys, now
	if key, ok = keys[kid]; !ok {
		return nil, errUnknownKey
	}
	return key, nil
}

// fetch reads the JWKS, keeping only Ed25519 signing keys.
func (k *keyCache) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("client: fetch JWKS: status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("client: read JWKS: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("client: parse JWKS: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, jwk := range set.Keys {
		if pub, ok := jwk.Key.(ed25519.PublicKey); ok && jwk.KeyID != "" && (jwk.Use == "" || jwk.Use == "sig") {
			keys[jwk.KeyID] = pub
		}
	}
	return keys, nil
}
