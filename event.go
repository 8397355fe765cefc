package sessionmanager

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"
)

// Event types of the audit log.
const (
	EventLoginSucceeded   = "login.succeeded"
	EventLoginFailed      = "login.failed"
	EventLoginBlocked     = "login.blocked"
	EventSessionRefreshed = "session.refreshed"
	EventSessionEnded     = "session.ended"
	// EventSessionAnomaly: session protection saw a live session used from
	// another place or device than its record; data: signals, action, and
	// the before/after facts.
	EventSessionAnomaly  = "session.anomaly"
	EventRefreshReuse    = "session.refresh_reuse"
	EventUserRegistered  = "user.registered"
	EventUserBlocked     = "user.blocked"
	EventUserUnblocked   = "user.unblocked"
	EventPasswordChanged = "user.password_changed"
	EventUserErased      = "user.erased"
	EventSettingsChanged = "settings.changed"
	EventAdminAction     = "admin.action"
	EventMagicLinkSent   = "magic_link.sent"
	// EventSessionReported: the user followed the "This wasn't me" link of
	// an email about a sign-in; the session ended (all of them with
	// data.endAll) and a password reset is required. Alert trigger
	// user_reported.
	EventSessionReported = "session.reported"
	// EventLoginChallenged: the policy asked a login for a second proof
	// (no session yet); EventChallengePassed / EventChallengeFailed: a
	// proof answered it (docs/AUTHENTICATION.md).
	EventLoginChallenged = "login.challenged"
	EventChallengePassed = "challenge.passed"
	EventChallengeFailed = "challenge.failed"
	// EventSigningKeyRotated: a new access-token signing key is published
	// and signs from its data's signsFrom on (at once with immediate), when
	// the old ones are retired (actor system: the schedule or the CLI).
	EventSigningKeyRotated = "signing_key.rotated"
	// EventSigningKeyWithdrawn: a retired signing key was expired at once.
	EventSigningKeyWithdrawn = "signing_key.withdrawn"
)

// Actor types.
const (
	ActorUser   = "user"
	ActorAdmin  = "admin"
	ActorSystem = "system"
)

// Event is one entry of the append-only, hash-chained audit log.
//
// Personal fields (IP, UserAgent, Personal) are covered by the chain through
// PersonalDigest, not directly, so that erasing them (GDPR) keeps every
// link verifiable.
type Event struct {
	// Seq is the position in the chain, assigned by the store (1, 2, ...).
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	ActorType string    `json:"actorType"`
	ActorID   string    `json:"actorId,omitempty"`
	UserID    string    `json:"userId,omitempty"`
	SessionID string    `json:"sessionId,omitempty"`
	Country   string    `json:"country,omitempty"`
	// Data is a JSON object of non-personal details (reasons, scores...).
	Data json.RawMessage `json:"data,omitempty"`
	// IP, UserAgent and Personal (a JSON object) are erasable.
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"userAgent,omitempty"`
	Personal  json.RawMessage `json:"personal,omitempty"`
	Erased    bool            `json:"erased,omitempty"`
	// PersonalDigest is SHA-256 over the personal fields, set by Seal.
	PersonalDigest []byte `json:"-"`
	PrevHash       []byte `json:"-"`
	Hash           []byte `json:"-"`
}

// PersonalDigestOf computes the digest of the event's personal fields.
func (e *Event) PersonalDigestOf() []byte {
	h := sha256.New()
	writeField(h, []byte(e.IP))
	writeField(h, []byte(e.UserAgent))
	writeField(h, e.Personal)
	return h.Sum(nil)
}

// ChainHash computes the hash that links e to the event before it.
func (e *Event) ChainHash(prev []byte) []byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UTC().UnixMicro()))
	h.Write(n[:])
	for _, f := range [][]byte{[]byte(e.Type), []byte(e.ActorType), []byte(e.ActorID), []byte(e.UserID), []byte(e.SessionID), []byte(e.Country), e.Data, e.PersonalDigest, prev} {
		writeField(h, f)
	}
	return h.Sum(nil)
}

// Seal sets Seq, PrevHash, PersonalDigest and Hash; the store calls it inside
// the transaction that appends the event, with the hash of the last event.
func (e *Event) Seal(seq int64, prev []byte) {
	e.Seq = seq
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.PrevHash = prev
	if !e.Erased {
		e.PersonalDigest = e.PersonalDigestOf()
	}
	e.Hash = e.ChainHash(prev)
}

func writeField(h interface{ Write([]byte) (int, error) }, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// EventFilter selects audit events.
type EventFilter struct {
	Types     []string
	UserID    string
	SessionID string
	ActorID   string
	// IP is a client address, as events record it (erased events keep none).
	IP string
	// Seq selects the one event of that position (0: any).
	Seq      int64
	From, To time.Time
	// AfterSeq lists events with Seq > AfterSeq, ascending (the chain order).
	AfterSeq int64
	// Desc lists newest first (Cursor then pages backwards).
	Desc   bool
	Limit  int
	Cursor string
}

// PersonalNames reports whether the personal fields (a JSON object) hold
// one of names as a whole string value, compared case-insensitively
// ("Ann@Example.com" names ann@example.com; "ann@example.com.au" does not).
// Erasure uses it to reach the events that name a user without the user's
// id: a magic-link sign-up, a failed login by an identifier not yet taken.
func PersonalNames(personal []byte, names ...string) bool {
	if len(personal) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(personal, &v) != nil {
		return false
	}
	return jsonNames(v, names)
}

func jsonNames(v any, names []string) bool {
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		for _, n := range names {
			if n != "" && strings.EqualFold(x, n) {
				return true
			}
		}
	case map[string]any:
		for _, f := range x {
			if jsonNames(f, names) {
				return true
			}
		}
	case []any:
		for _, f := range x {
			if jsonNames(f, names) {
				return true
			}
		}
	}
	return false
}

// ActorName names who acted, for people: the admin's email when the event
// records it (dashboard admins, and API tokens that belong to an admin),
// "API token <name>" for a token, else the actor type (user, system).
func (e *Event) ActorName() string {
	var d struct {
		AdminEmail string `json:"adminEmail"`
	}
	if len(e.Data) > 0 && json.Unmarshal(e.Data, &d) == nil && d.AdminEmail != "" {
		return d.AdminEmail
	}
	if name, ok := strings.CutPrefix(e.ActorID, "token:"); ok {
		return "API token " + name
	}
	return e.ActorType
}
