package sessionmanager

import "time"

// Scopes of admin API tokens.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	// ScopeService is for services: POST /api/sessions, introspection.
	ScopeService = "service"
)

// Admin is an account that signs in to the dashboard.
type Admin struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	PasswordHash string `json:"-"`
	// TOTPSealed is the TOTP secret sealed with AES-256-GCM; nil when off.
	TOTPSealed []byte `json:"-"`
	// Role is what the admin may do (RoleOwner, RoleAdmin, RoleViewer);
	// empty is stored as RoleOwner (accounts made before roles existed).
	Role       string    `json:"role"`
	CreatedAt  time.Time `json:"createdAt"`
	DisabledAt time.Time `json:"disabledAt,omitzero"`
	// LastSignInAt is the start of the admin's latest dashboard sign-in.
	LastSignInAt time.Time `json:"lastSignInAt,omitzero"`
}

// Disabled reports whether the account is deactivated: it cannot sign in.
func (a *Admin) Disabled() bool { return !a.DisabledAt.IsZero() }

// TOTP reports whether the admin signs in with a second factor.
func (a *Admin) TOTP() bool { return len(a.TOTPSealed) > 0 }

// AdminToken is an API token. Only its hash is stored.
type AdminToken struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Hash       []byte    `json:"-"`
	Scope      string    `json:"scope"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
}

// SigningKey is an Ed25519 key pair for access tokens; the private half is
// sealed with the encryption key.
type SigningKey struct {
	ID            string
	Algorithm     string // EdDSA
	PrivateSealed []byte
	Public        []byte
	CreatedAt     time.Time
	// RetiredAt: not used to sign after it; still verifies until ExpiresAt.
	RetiredAt time.Time
	// ExpiresAt: zero while active; after it the key is no longer published.
	ExpiresAt time.Time
}

// MagicLink is a single-use sign-in link. Only the token's hash is stored.
type MagicLink struct {
	Hash      []byte
	Email     string
	UserID    string // empty when self sign-up will create the user
	IP        string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}
