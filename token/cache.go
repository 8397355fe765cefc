package token

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// cacheShards spreads the verified-token cache over independent locks so
// concurrent requests rarely contend.
const cacheShards = 32

// verifiedCache maps a verified token to its claims until the token's exp.
// Only tokens that passed Verify (or that Issue just signed) enter it. It is
// bounded: a full shard first drops expired entries, then arbitrary ones
// down to three quarters.
//
// It holds a token for every session active on the instance, so an entry is
// small (docs/PERFORMANCE.md, "Memory per cached session"): the map's key is
// 16 characters of the token's signature, not the token (about 350 bytes);
// the entry keeps a 64-bit keyed hash of the whole token, so only that exact
// token is answered; the session and user ids share one string; times are
// seconds; the key id, amr and acr are shared by every token that has the
// same ones (claimShape).
type verifiedCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard

	shapesMu sync.Mutex
	shapes   map[shapeKey]*claimShape
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[cacheKey]*cachedClaims
}

// cacheKey is the first 16 characters of a token's signature segment: 96
// random bits that only a holder of the token knows.
type cacheKey [16]byte

// cachedClaims are a token's claims as cached (48 bytes).
type cachedClaims struct {
	check uint64 // maphash of the whole token under the cache's seed
	exp   int64  // Unix seconds
	ids   string // session id then subject
	shape *claimShape
	// iatAgo is exp - iat; authAgo is iat - auth_time + 1 (0: no auth_time).
	iatAgo, authAgo uint32
}

// claimShape is what many tokens share: the signing key, the session's
// amr and acr, and the length of the session id in ids. A token bound to a
// key (jkt) has a shape of its own.
type claimShape struct {
	kid, acr, jkt string
	amr           []string
	sidLen        int
}

type shapeKey struct {
	kid, acr, amr string
	sidLen        int
}

// maxShapes bounds the table of shared shapes; past it, shapes are not
// shared (never reached: there are few keys and few amr/acr combinations).
const maxShapes = 4096

func newVerifiedCache(size int) *verifiedCache {
	c := &verifiedCache{seed: maphash.MakeSeed(), perShard: max(1, size/cacheShards), shapes: make(map[shapeKey]*claimShape)}
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]*cachedClaims)
	}
	return c
}

// keyOf is token's cache key; ok is false for a token without a signature
// segment of 16 characters or more (never cached, never found).
func keyOf(token string) (k cacheKey, ok bool) {
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 || len(token)-dot-1 < len(k) {
		return k, false
	}
	copy(k[:], token[dot+1:])
	return k, true
}

// sum is token's keyed hash: an entry's check, and which shard holds it.
func (c *verifiedCache) sum(token string) uint64 { return maphash.String(c.seed, token) }

func (c *verifiedCache) shard(sum uint64) *cacheShard { return &c.shards[sum%cacheShards] }

// get returns the claims of token if it is cached and not expired at now.
func (c *verifiedCache) get(token string, now time.Time) (sm.AccessClaims, bool) {
	k, ok := keyOf(token)
	if !ok {
		return sm.AccessClaims{}, false
	}
	sum := c.sum(token)
	s := c.shard(sum)
	s.mu.RLock()
	e := s.entries[k]
	s.mu.RUnlock()
	// exp is whole seconds: now is before it exactly when now's second is.
	if e == nil || now.Unix() >= e.exp || e.check != sum {
		return sm.AccessClaims{}, false
	}
	return e.claims(), true
}

// claims expands e.
func (e *cachedClaims) claims() sm.AccessClaims {
	sh := e.shape
	iat := e.exp - int64(e.iatAgo)
	c := sm.AccessClaims{
		Subject:   e.ids[sh.sidLen:],
		SessionID: e.ids[:sh.sidLen],
		KeyID:     sh.kid,
		IssuedAt:  time.Unix(iat, 0).UTC(),
		ExpiresAt: time.Unix(e.exp, 0).UTC(),
		JKT:       sh.jkt,
	}
	c.AMR, c.ACR = sh.amr, sh.acr
	if e.authAgo != 0 {
		c.AuthTime = time.Unix(iat-int64(e.authAgo-1), 0).UTC()
	}
	return c
}

// put caches claims for token, evicting at now when the shard is full, and
// returns the claims as the cache holds them (their strings are the
// cache's: a caller that keeps them shares its memory). Claims that do not
// fit the compact form (fractional seconds, auth_time after iat) are not
// cached: that token is verified each time.
func (c *verifiedCache) put(token string, claims sm.AccessClaims, now time.Time) sm.AccessClaims {
	k, ok := keyOf(token)
	e, fits := c.compact(claims)
	if !ok || !fits {
		return claims
	}
	e.check = c.sum(token)
	s := c.shard(e.check)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= c.perShard {
		s.evict(now, c.perShard*3/4)
	}
	s.entries[k] = e
	return e.claims()
}

// compact is claims as an entry (check not set), if they fit.
func (c *verifiedCache) compact(claims sm.AccessClaims) (*cachedClaims, bool) {
	iat, exp, auth := claims.IssuedAt, claims.ExpiresAt, claims.AuthTime
	ago := exp.Unix() - iat.Unix()
	if iat.Nanosecond() != 0 || exp.Nanosecond() != 0 || ago < 0 || ago > 1<<32-1 {
		return nil, false
	}
	e := &cachedClaims{exp: exp.Unix(), iatAgo: uint32(ago), ids: claims.SessionID + claims.Subject}
	if !auth.IsZero() {
		authAgo := iat.Unix() - auth.Unix() + 1
		if auth.Nanosecond() != 0 || authAgo < 1 || authAgo > 1<<32-1 {
			return nil, false
		}
		e.authAgo = uint32(authAgo)
	}
	e.shape = c.shape(claims, len(claims.SessionID))
	return e, true
}

// shape returns the shared shape of claims.
func (c *verifiedCache) shape(claims sm.AccessClaims, sidLen int) *claimShape {
	fresh := &claimShape{kid: claims.KeyID, acr: claims.ACR, jkt: claims.JKT, amr: claims.AMR, sidLen: sidLen}
	if claims.JKT != "" {
		return fresh
	}
	k := shapeKey{kid: claims.KeyID, acr: claims.ACR, amr: strings.Join(claims.AMR, " "), sidLen: sidLen}
	c.shapesMu.Lock()
	defer c.shapesMu.Unlock()
	if sh, ok := c.shapes[k]; ok && equalStrings(sh.amr, claims.AMR) {
		return sh
	}
	if len(c.shapes) < maxShapes {
		fresh.amr = append([]string(nil), claims.AMR...) // the caller's slice is not the cache's
		c.shapes[k] = fresh
	}
	return fresh
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// evict drops expired entries and then, if still above keep, arbitrary
// ones (map order is random) so that eviction cost is amortised.
func (s *cacheShard) evict(now time.Time, keep int) {
	sec := now.Unix()
	for k, e := range s.entries {
		if sec >= e.exp {
			delete(s.entries, k)
		}
	}
	for k := range s.entries {
		if len(s.entries) <= keep {
			return
		}
		delete(s.entries, k)
	}
}

// dropKeysNotIn removes the tokens signed by keys that are no longer in
// keys, so a key withdrawn from the store stops verifying at once, cached
// tokens included.
func (c *verifiedCache) dropKeysNotIn(keys map[string]*verifyKey) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.entries {
			if _, ok := keys[e.shape.kid]; !ok {
				delete(s.entries, k)
			}
		}
		s.mu.Unlock()
	}
}
