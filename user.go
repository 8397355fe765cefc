package sessionmanager

import (
	"encoding/json"
	"time"
)

// User is an end user of the application whose sessions are managed.
type User struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Username string `json:"username"`
	// PasswordHash is an argon2id PHC string; empty for users that only sign
	// in by magic link or through an external system.
	PasswordHash string `json:"-"`
	// ExternalID is the user's id in another auth system (POST /api/sessions).
	ExternalID string `json:"externalId,omitempty"`
	// Confirmed is true once the email is proven (confirmation link, magic
	// link, password reset) or came from a trusted system. A password
	// sign-up starts unconfirmed.
	Confirmed bool `json:"confirmed"`
	// PasswordUnproven marks a password set by someone who had not proven
	// the email (at sign-up; a confirmation link proves the email, not
	// who chose the password, and mail scanners follow links). The next
	// proof by a magic link voids it; a password reset replaces it.
	PasswordUnproven bool `json:"passwordUnproven,omitempty"`
	// PasswordResetRequired is set when the user reported a session as not
	// theirs ("This wasn't me"): a password login is refused (reason
	// password_reset_required) until a password reset sets a new one.
	PasswordResetRequired bool      `json:"passwordResetRequired,omitempty"`
	Blocked               bool      `json:"blocked"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
	// PasswordChangedAt is zero until the first password change.
	PasswordChangedAt time.Time `json:"passwordChangedAt,omitzero"`
}

// MarshalJSON adds, for admin views, the identity keys of a username or
// email whose raw form looks like another one (full-width, Cyrillic or
// Greek look-alike letters): usernameKey / emailKey and lookalike: true.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User
	out := struct {
		plain
		UsernameKey string `json:"usernameKey,omitempty"`
		EmailKey    string `json:"emailKey,omitempty"`
		Lookalike   bool   `json:"lookalike,omitempty"`
	}{plain: plain(u)}
	if LooksAlike(u.Username) {
		out.UsernameKey, out.Lookalike = IdentityKey(u.Username), true
	}
	if LooksAlike(u.Email) {
		out.EmailKey, out.Lookalike = IdentityKey(u.Email), true
	}
	return json.Marshal(out)
}

// UserUpdate names the fields of a user to change; nil fields stay.
type UserUpdate struct {
	Email            *string
	Username         *string
	PasswordHash     *string
	Blocked          *bool
	Confirmed        *bool
	PasswordUnproven *bool
	// PasswordResetRequired sets or clears User.PasswordResetRequired.
	PasswordResetRequired *bool
	PasswordChangedAt     *time.Time
	UpdatedAt             time.Time
	// IfPasswordHash makes the update a compare-and-swap: it applies only
	// while the stored password hash is still this one (the hash the
	// caller read), else the store changes nothing and answers
	// ErrPasswordChanged. Every password write sets it, so a write that
	// raced another (an owner's proof, a reset) can never land on top.
	IfPasswordHash *string
	// SpendTokens marks every unused magic link and account token of the
	// user used in the same transaction as the update: a password change,
	// reset or email proof leaves no older code or link working.
	SpendTokens bool
}

// ErrPasswordChanged is the conflict a conditional password write
// (UserUpdate.IfPasswordHash) answers when the password changed since it
// was read. Stores return it; callers compare with errors.Is or the reason.
var ErrPasswordChanged = &Error{Code: ECONFLICT, Reason: "password_changed", Message: "The password was changed meanwhile; sign in again"}

// UserFilter selects users for a list page.
type UserFilter struct {
	// Search matches a substring of email or username (case-insensitive).
	Search  string
	Blocked *bool
	// Limit is the page size (the store caps it at 500, default 50).
	Limit int
	// Cursor is the opaque cursor of the previous page's NextCursor.
	Cursor string
}
