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

// DefaultJWKSMaxAge is how long the JWKS may be cached (Cache-Control
// max-age of ServeJWKS).
const DefaultJWKSMaxAge = 5 * time.Minute

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
	// JWKSMaxAge is the Cache-Control max-age of the JWKS
	// (DefaultJWKSMaxAge when zero).
	JWKSMaxAge time.Duration
	// SignLead is how long a rotation publishes the next key before it
	// signs: long enough for every instance to reload (Watch interval),
	// for every cached JWKS to expire (JWKSMaxAge) and for clock skew
	// (RetireGrace). Zero: exactly that sum; less is an error.
	SignLead time.Duration
}

// watchInterval is how often Watch reloads without a bus message.
func (c Config) watchInterval() time.Duration { return max(c.RetireGrace/2, 100*time.Millisecond) }

// minSignLead is the shortest lead after which every verifier that follows
// the JWKS cache rules knows the next key.
func (c Config) minSignLead() time.Duration { return c.JWKSMaxAge + c.watchInterval() }

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
	// signers are the keys that sign now or will, newest first; which one
	// signs depends on the time (signerAt), so a published next key takes
	// over at its start without a reload.
	signers   []*signingKey
	verifiers map[string]*verifyKey
	ordered   []*verifyKey // newest first, for the JWKS
}

// signingKey is a key that may sign from from (its CreatedAt: a rotation
// dates the next key at the end of its lead) until until (its RetiredAt;
// zero: no end yet).
type signingKey struct {
	id      string
	private ed25519.PrivateKey
	from    time.Time
	until   time.Time
}

// signsAt reports whether k is in its signing window at now.
func (k *signingKey) signsAt(now time.Time) bool {
	return !now.Before(k.from) && (k.until.IsZero() || now.Before(k.until))
}

// signerAt is the key that signs at now: the newest whose window holds
// now; failing that (a clock behind the one that dated the key), the
// earliest not yet retired, so an instance always signs with a published key.
func (s *keySet) signerAt(now time.Time) *signingKey {
	var first *signingKey
	for _, k := range s.signers {
		if k.signsAt(now) {
			return k
		}
		if k.until.IsZero() || now.Before(k.until) {
			first = k
		}
	}
	return first
}

// next is the published key that will sign after the current one (nil if none).
func (s *keySet) next(now time.Time) *signingKey {
	if len(s.signers) > 0 && now.Before(s.signers[0].from) && s.signers[0].until.IsZero() {
		return s.signers[0]
	}
	return nil
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
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if cfg.SignLead == 0 {
		cfg.SignLead = cfg.minSignLead() + cfg.RetireGrace
	}
	if cfg.SignLead < cfg.minSignLead() {
		return nil, sm.Errorf(sm.EINVALID, "token: the signing lead (%s) must be at least the JWKS max-age plus the reload interval (%s)", cfg.SignLead, cfg.minSignLead())
	}
	kr := &Keyring{store: keys, sealer: sealer, cfg: cfg, cache: newVerifiedCache(cfg.CacheSize)}
	if err := kr.Reload(ctx); err != nil {
		return nil, err
	}
	if kr.keys.Load().signerAt(cfg.Now()) == nil {
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

// buildSet keeps the EdDSA keys not expired at now (verifyUntil) and the
// ones that sign now or later. Several active keys (two instances started
// at once) all verify; every instance signs with the newest.
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
		vk := &verifyKey{id: k.ID, public: ed25519.PublicKey(k.Public), expiresAt: kr.verifyUntil(k)}
		if k.Algorithm != algEdDSA || !vk.usable(now) {
			continue
		}
		priv, err := kr.openKey(k)
		if err != nil {
			return nil, err
		}
		set.verifiers[k.ID] = vk
		set.ordered = append(set.ordered, vk)
		if !withdrawn(k) && (k.RetiredAt.IsZero() || now.Before(k.RetiredAt)) {
			set.signers = append(set.signers, &signingKey{id: k.ID, private: priv, from: k.CreatedAt, until: k.RetiredAt})
		}
	}
	return set, nil
}

// withdrawn reports whether k was expired at once (keys withdraw): its
// stored expiry is not after its retirement. A rotation always stores an
// expiry a TTL after the retirement.
func withdrawn(k *sm.SigningKey) bool {
	return !k.ExpiresAt.IsZero() && (k.RetiredAt.IsZero() || !k.ExpiresAt.After(k.RetiredAt))
}

// verifyUntil is when k stops verifying here (zero: not retired). A
// retired key verifies until the last token this instance could have
// signed with it has expired, with this instance's own TTL and grace,
// whatever the TTL of the process that rotated (`keys rotate` from a shell
// without the server's SM_ACCESS_TOKEN_TTL); a withdrawn key stops at its
// stored expiry.
func (kr *Keyring) verifyUntil(k *sm.SigningKey) time.Time {
	if withdrawn(k) || k.RetiredAt.IsZero() {
		return k.ExpiresAt
	}
	own := k.RetiredAt.Add(kr.cfg.TTL + kr.cfg.RetireGrace)
	if own.After(k.ExpiresAt) {
		return own
	}
	return k.ExpiresAt
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
	// NewKeyID is published now and signs from SignsFrom.
	NewKeyID  string
	SignsFrom time.Time
	// RetiredKeyIDs sign until SignsFrom, then verify until RetiredUntil
	// (as this instance computes it: every instance extends it to cover
	// its own TTL).
	RetiredKeyIDs []string
	RetiredUntil  time.Time
}

// Rotate publishes a new key at once and makes it the signer after
// Config.SignLead: by then every instance lists it in its JWKS and every
// JWKS cached under the max-age lists it too, so no verifier refuses its
// tokens. Every key that signs now retires at that moment: it signs no
// more but verifies, and stays published, until the last token it signed
// has expired (retirement + TTL + RetireGrace, on every instance with its
// own TTL); after that it is neither published nor loaded again. A
// rotation while a next key is already published is ECONFLICT.
func (kr *Keyring) Rotate(ctx context.Context, now time.Time) (Rotated, error) {
	return kr.rotate(ctx, now, kr.cfg.SignLead)
}

// RotateImmediately is the emergency rotation (the signing key leaked): the
// new key signs at once, and replaces a next key already published.
// Verifiers holding a cached JWKS (up to Config.JWKSMaxAge, plus their own
// refetch limits) refuse its tokens until they refetch.
func (kr *Keyring) RotateImmediately(ctx context.Context, now time.Time) (Rotated, error) {
	return kr.rotate(ctx, now, 0)
}

func (kr *Keyring) rotate(ctx context.Context, now time.Time, lead time.Duration) (Rotated, error) {
	if err := kr.Reload(ctx); err != nil {
		return Rotated{}, err
	}
	old := kr.keys.Load()
	if next := old.next(now); next != nil && lead > 0 {
		return Rotated{}, sm.Errorf(sm.ECONFLICT, "key %s is already published and signs from %s; rotate immediately to replace it", next.id, next.from.UTC().Format(time.RFC3339))
	}
	from := now.Add(lead)
	id, err := kr.createKey(ctx, from)
	if err != nil {
		return Rotated{}, err
	}
	r := Rotated{NewKeyID: id, SignsFrom: from, RetiredUntil: from.Add(kr.cfg.TTL + kr.cfg.RetireGrace)}
	for _, k := range old.signers {
		if err := kr.store.UpdateSigningKey(ctx, k.id, from, r.RetiredUntil); err != nil {
			return r, err
		}
		r.RetiredKeyIDs = append(r.RetiredKeyIDs, k.id)
	}
	return r, kr.Reload(ctx)
}

// SignerSince is when the key that signs now started signing (zero if none).
func (kr *Keyring) SignerSince() time.Time {
	if k := kr.keys.Load().signerAt(kr.cfg.Now()); k != nil {
		return k.from
	}
	return time.Time{}
}

// SignerID is the key id of the key that signs now.
func (kr *Keyring) SignerID() string {
	if k := kr.keys.Load().signerAt(kr.cfg.Now()); k != nil {
		return k.id
	}
	return ""
}

// Next is the published key that will sign next, and from when (empty if
// no rotation is under way).
func (kr *Keyring) Next() (string, time.Time) {
	if k := kr.keys.Load().next(kr.cfg.Now()); k != nil {
		return k.id, k.from
	}
	return "", time.Time{}
}

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
