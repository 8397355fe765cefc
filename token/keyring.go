package token

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// algEdDSA is the only algorithm the Keyring signs with and accepts.
const algEdDSA = "EdDSA"

// Defaults of Config.
const (
	DefaultTTL       = 15 * time.Minute
	DefaultCacheSize = 65536
)

// reloadInterval bounds store reads caused by unknown key ids: a stream of
// forged kids cannot turn into a stream of queries.
const reloadInterval = time.Second

// MaxRetireGrace caps the default Config.RetireGrace.
const MaxRetireGrace = time.Minute

// Sealer protects the private halves of signing keys; *Secrets is one.
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// Config configures a Keyring.
type Config struct {
	// Issuer and Audience are the iss and aud of every token; required.
	Issuer   string
	Audience string
	// TTL is the lifetime of an access token (DefaultTTL when zero), and how
	// long a retired key still verifies.
	TTL time.Duration
	// Now is the clock of key loading, the JWKS and the reload limit
	// (time.Now if nil); Issue, Verify and Rotate take their time as an
	// argument.
	Now func() time.Time
	// CacheSize bounds the verified-token cache (DefaultCacheSize if zero).
	CacheSize int
	// RetireGrace is how long a retired key outlives the last token it
	// signed: the margin for clock skew between instances and for an
	// instance that still signs with the old key until it picks up the
	// rotation (Watch reloads at least every RetireGrace/2). Zero: the TTL,
	// at most MaxRetireGrace.
	RetireGrace time.Duration
}

// Keyring implements sessionmanager.AccessTokens: EdDSA JWTs signed with the
// newest active Ed25519 key of a KeyStore, verified against every key that
// has not expired.
type Keyring struct {
	store  sm.KeyStore
	sealer Sealer
	cfg    Config
	// keys is an immutable snapshot, swapped whole on reload, so the verify
	// path reads it without a lock.
	keys  atomic.Pointer[keySet]
	cache *verifiedCache
	// reloadMu serialises reloads; lastKidReload (unix nanos) limits the
	// ones an unknown kid triggers.
	reloadMu      sync.Mutex
	lastKidReload atomic.Int64
}

var _ sm.AccessTokens = (*Keyring)(nil)

// keySet is one snapshot of the store's usable keys.
type keySet struct {
	signerID    string
	signer      ed25519.PrivateKey
	signedSince time.Time // the signer's CreatedAt
	verifiers   map[string]*verifyKey
	ordered     []*verifyKey // newest first, for the JWKS
}

// verifyKey is a public key and when it stops verifying (zero: never yet).
type verifyKey struct {
	id        string
	public    ed25519.PublicKey
	expiresAt time.Time
}

// usable reports whether k still verifies (and is published) at now.
func (k *verifyKey) usable(now time.Time) bool {
	return k.expiresAt.IsZero() || now.Before(k.expiresAt)
}

// NewKeyring loads the signing keys from keys and, when none is active,
// creates one (its private half sealed with sealer, the key id as additional
// data) and stores it.
func NewKeyring(ctx context.Context, keys sm.KeyStore, sealer Sealer, cfg Config) (*Keyring, error) {
	if keys == nil || sealer == nil {
		return nil, sm.Errorf(sm.EINVALID, "token: a key store and a sealer are required")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, sm.Errorf(sm.EINVALID, "token: issuer and audience are required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.RetireGrace <= 0 {
		cfg.RetireGrace = min(cfg.TTL, MaxRetireGrace)
	}
	kr := &Keyring{store: keys, sealer: sealer, cfg: cfg, cache: newVerifiedCache(cfg.CacheSize)}
	if err := kr.Reload(ctx); err != nil {
		return nil, err
	}
	if kr.keys.Load().signer == nil {
		if _, err := kr.createKey(ctx, cfg.Now()); err != nil {
			return nil, err
		}
		if err := kr.Reload(ctx); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// Reload re-reads the keys from the store: another instance may have
// rotated. The current snapshot stays when the read fails.
func (kr *Keyring) Reload(ctx context.Context) error {
	kr.reloadMu.Lock()
	defer kr.reloadMu.Unlock()
	stored, err := kr.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	set, err := kr.buildSet(stored, kr.cfg.Now())
	if err != nil {
		return err
	}
	prev := kr.keys.Swap(set)
	if prev != nil && removesKeys(prev, set) {
		kr.cache.dropKeysNotIn(set.verifiers)
	}
	return nil
}

// removesKeys reports whether a key of prev is missing from next.
func removesKeys(prev, next *keySet) bool {
	for id := range prev.verifiers {
		if _, ok := next.verifiers[id]; !ok {
			return true
		}
	}
	return false
}

// buildSet keeps the EdDSA keys not expired at now and signs with the
// newest active one. Several active keys (two instances started at once)
// all verify; every instance signs with the newest.
//
// Every key must open with the sealer and match its public half, public
// keys included: write access to the store alone, without
// SESSION_ENCRYPTION_KEY, cannot plant a key that verifies. A key that does
// not open is an error, not skipped: a wrong encryption key must fail loudly
// rather than make this instance mint keys the others reject.
func (kr *Keyring) buildSet(stored []*sm.SigningKey, now time.Time) (*keySet, error) {
	sort.Slice(stored, func(i, j int) bool {
		if !stored[i].CreatedAt.Equal(stored[j].CreatedAt) {
			return stored[i].CreatedAt.After(stored[j].CreatedAt)
		}
		return stored[i].ID > stored[j].ID
	})
	set := &keySet{verifiers: make(map[string]*verifyKey, len(stored))}
	for _, k := range stored {
		vk := &verifyKey{id: k.ID, public: ed25519.PublicKey(k.Public), expiresAt: k.ExpiresAt}
		if k.Algorithm != algEdDSA || !vk.usable(now) {
			continue
		}
		priv, err := kr.openKey(k)
		if err != nil {
			return nil, err
		}
		set.verifiers[k.ID] = vk
		set.ordered = append(set.ordered, vk)
		if set.signer == nil && k.RetiredAt.IsZero() && k.ExpiresAt.IsZero() {
			set.signerID, set.signer, set.signedSince = k.ID, priv, k.CreatedAt
		}
	}
	return set, nil
}

// openKey unseals k's private half and checks it against the public half
// and the key id.
func (kr *Keyring) openKey(k *sm.SigningKey) (ed25519.PrivateKey, error) {
	seed, err := kr.sealer.Open(k.PrivateSealed, []byte(k.ID))
	if err != nil {
		return nil, sm.Errorf(sm.EINTERNAL, "token: cannot open signing key %s (wrong SESSION_ENCRYPTION_KEY?)", k.ID)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, sm.Errorf(sm.EINTERNAL, "token: signing key %s is malformed", k.ID)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	public := priv.Public().(ed25519.PublicKey)
	if !public.Equal(ed25519.PublicKey(k.Public)) || thumbprint(public) != k.ID {
		return nil, sm.Errorf(sm.EINTERNAL, "token: signing key %s does not match its public key", k.ID)
	}
	return priv, nil
}

// createKey makes a new Ed25519 key and stores it with its seed sealed.
func (kr *Keyring) createKey(ctx context.Context, now time.Time) (string, error) {
	public, private, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", err
	}
	id := thumbprint(public)
	sealed, err := kr.sealer.Seal(private.Seed(), []byte(id))
	if err != nil {
		return "", err
	}
	return id, kr.store.CreateSigningKey(ctx, &sm.SigningKey{
		ID:            id,
		Algorithm:     algEdDSA,
		PrivateSealed: sealed,
		Public:        public,
		CreatedAt:     now,
	})
}

// Rotated is what a rotation did.
type Rotated struct {
	// NewKeyID signs from now on.
	NewKeyID string
	// RetiredKeyIDs sign no more and verify until RetiredUntil.
	RetiredKeyIDs []string
	RetiredUntil  time.Time
}

// Rotate creates a new signing key and retires every active one at now: a
// retired key signs no more but verifies, and stays published, until
// now+TTL+RetireGrace, when the last token it signed has expired (on every
// instance, allowing for skew and for instances that have not reloaded
// yet); after that it is neither published nor loaded again.
func (kr *Keyring) Rotate(ctx context.Context, now time.Time) (Rotated, error) {
	if err := kr.Reload(ctx); err != nil {
		return Rotated{}, err
	}
	old := kr.keys.Load()
	id, err := kr.createKey(ctx, now)
	if err != nil {
		return Rotated{}, err
	}
	r := Rotated{NewKeyID: id, RetiredUntil: now.Add(kr.cfg.TTL + kr.cfg.RetireGrace)}
	for _, k := range old.ordered {
		if !k.expiresAt.IsZero() {
			continue
		}
		if err := kr.store.UpdateSigningKey(ctx, k.id, now, r.RetiredUntil); err != nil {
			return r, err
		}
		r.RetiredKeyIDs = append(r.RetiredKeyIDs, k.id)
	}
	return r, kr.Reload(ctx)
}

// SignerSince is when the key that signs now was created (zero if none).
func (kr *Keyring) SignerSince() time.Time { return kr.keys.Load().signedSince }

// SignerID is the key id of the key that signs now.
func (kr *Keyring) SignerID() string { return kr.keys.Load().signerID }

// reloadForUnknownKid reloads at most once per reloadInterval, so that a key
// rotated in by another instance becomes known; false when it was skipped.
func (kr *Keyring) reloadForUnknownKid() bool {
	now := kr.cfg.Now().UnixNano()
	last := kr.lastKidReload.Load()
	if now-last < int64(reloadInterval) || !kr.lastKidReload.CompareAndSwap(last, now) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return kr.Reload(ctx) == nil
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key: a key
// id that is stable and says nothing but what the public key says.
func thumbprint(public ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(public) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
