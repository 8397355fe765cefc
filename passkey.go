package sessionmanager

import (
	"context"
	"encoding/json"
	"time"
)

// Passkey is a WebAuthn credential registered by a user: what the
// relying party keeps to verify its assertions (the public key, never a
// secret) plus what the user sees of it.
type Passkey struct {
	// ID is the record's own opaque id (the self-service routes use it).
	ID string `json:"id"`
	// CredentialID is the authenticator's credential id (unique).
	CredentialID []byte `json:"-"`
	UserID       string `json:"-"`
	Name         string `json:"name"`
	// PublicKey is the COSE public key.
	PublicKey []byte `json:"-"`
	// SignCount is the authenticator's signature counter at its last use;
	// 0 for authenticators without one.
	SignCount  uint32   `json:"-"`
	Transports []string `json:"transports"`
	// AAGUID names the authenticator model (16 bytes; zero when not told).
	AAGUID []byte `json:"-"`
	// BackupEligible and BackupState are the credential's BE/BS flags: a
	// synced (multi-device) passkey is eligible; BE never changes.
	BackupEligible bool `json:"backupEligible"`
	BackupState    bool `json:"backedUp"`
	// UserVerified: the authenticator verified the user (PIN, biometrics)
	// at registration.
	UserVerified      bool   `json:"-"`
	AttestationType   string `json:"-"`
	AttestationFormat string `json:"-"`
	// Attachment is "platform" or "cross-platform" when the browser told.
	Attachment string    `json:"attachment,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	// LastUsedAt is zero until the first sign-in with it.
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// AMR is the RFC 8176 method of a sign-in with this passkey: "hwk" for a
// key bound to one device, "swk" for a synced (backup-eligible) one.
func (p *Passkey) AMR() string {
	if p.BackupEligible {
		return "swk"
	}
	return "hwk"
}

// Passkey ceremony purposes.
const (
	CeremonyRegister  = "register"
	CeremonyLogin     = "login"
	CeremonyChallenge = "challenge"
)

// PasskeyCeremony is the server-side state of one WebAuthn ceremony
// between its options and the browser's answer: single use, short lived,
// bound to what began it, kept in the store so any instance can finish it.
type PasskeyCeremony struct {
	// Hash is the keyed hash of the ceremony's challenge (the browser signs
	// the challenge; the answer finds its ceremony by it).
	Hash    []byte
	Purpose string
	// UserID is the user the ceremony is for ("" for a discoverable login).
	UserID string
	// SessionID is the session that began a registration.
	SessionID string
	// ChallengeID is the login challenge a CeremonyChallenge answers.
	ChallengeID string
	// State is the ceremony adapter's state, sealed.
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PasskeyStore keeps passkeys and the state of their ceremonies.
type PasskeyStore interface {
	// CreatePasskey inserts p; a credential id already registered (to
	// anyone) is ECONFLICT.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// PasskeysByUser lists the user's passkeys, oldest first.
	PasskeysByUser(ctx context.Context, userID string) ([]*Passkey, error)
	// CountPasskeys counts the user's passkeys.
	CountPasskeys(ctx context.Context, userID string) (int, error)
	// PasskeyByCredentialID finds a passkey by its credential id, else ENOTFOUND.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// RecordPasskeyUse stores the counter and backup state of a verified
	// assertion. The counter must move forward (or stay 0 for an
	// authenticator without one): a counter that did not is ECONFLICT (a
	// cloned key or a replay) and changes nothing.
	RecordPasskeyUse(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) error
	// RenamePasskey renames the user's passkey; another user's is ENOTFOUND.
	RenamePasskey(ctx context.Context, userID, id, name string) error
	// DeletePasskey removes the user's passkey; another user's is ENOTFOUND.
	DeletePasskey(ctx context.Context, userID, id string) error
	// DeleteUserPasskeys removes all of the user's passkeys and pending
	// ceremonies (an admin's factor reset) and says how many passkeys went.
	DeleteUserPasskeys(ctx context.Context, userID string) (int, error)
	// CreatePasskeyCeremony stores a ceremony (and drops expired ones).
	CreatePasskeyCeremony(ctx context.Context, c *PasskeyCeremony) error
	// ConsumePasskeyCeremony deletes and returns the ceremony if it has not
	// expired at now: of concurrent calls exactly one gets it. Unknown,
	// spent or expired is ENOTFOUND.
	ConsumePasskeyCeremony(ctx context.Context, hash []byte, now time.Time) (*PasskeyCeremony, error)
}

// PasskeyResponse is a browser's answer to a ceremony (a
// PublicKeyCredential in its JSON form), parsed but not yet verified.
type PasskeyResponse struct {
	// Challenge is the challenge the browser signed, as sent in the options.
	Challenge string
	// CredentialID is the credential the browser used (assertions).
	CredentialID []byte
	// UserHandle is the user id the authenticator returned (discoverable
	// assertions), or nil.
	UserHandle []byte
	// BackupEligible is the BE flag the authenticator reported (a synced
	// passkey); verified against the stored credential by FinishLogin.
	BackupEligible bool
	// Parsed is the adapter's own parsed form.
	Parsed any
}

// PasskeyCeremonies runs the WebAuthn ceremonies' cryptography (package
// passkey implements it with go-webauthn). It writes nothing: the Manager
// keeps the state and the credentials. Errors it returns for a client's
// answer are EINVALID with a reason.
type PasskeyCeremonies interface {
	// BeginRegistration returns the PublicKeyCredentialCreationOptions JSON
	// for u (excluding the credentials it has), its challenge, and the
	// state to keep until the answer.
	BeginRegistration(u *User, existing []*Passkey) (options json.RawMessage, challenge string, state []byte, err error)
	// ParseRegistration reads a browser's attestation response.
	ParseRegistration(response []byte) (*PasskeyResponse, error)
	// FinishRegistration verifies the attestation against the state and
	// returns the new credential (ID, Name, times left for the caller).
	FinishRegistration(u *User, state []byte, response *PasskeyResponse) (*Passkey, error)
	// BeginLogin returns PublicKeyCredentialRequestOptions JSON: for any
	// discoverable passkey when u is nil, else for u's passkeys.
	BeginLogin(u *User, passkeys []*Passkey) (options json.RawMessage, challenge string, state []byte, err error)
	// ParseAssertion reads a browser's assertion response.
	ParseAssertion(response []byte) (*PasskeyResponse, error)
	// FinishLogin verifies the assertion of u with one of passkeys against
	// the state and returns that passkey with its new counter and flags.
	FinishLogin(u *User, passkeys []*Passkey, state []byte, response *PasskeyResponse) (*Passkey, error)
}
