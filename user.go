package sessionmanager

import "time"

// User is an end user of the application whose sessions are managed.
type User struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Username string `json:"username"`
	// PasswordHash is an argon2id PHC string; empty for users that only sign
	// in by magic link or through an external system.
	PasswordHash string `json:"-"`
	// ExternalID is the user's id in another auth system (POST /api/sessions).
	ExternalID string    `json:"externalId,omitempty"`
	Blocked    bool      `json:"blocked"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	// PasswordChangedAt is zero until the first password change.
	PasswordChangedAt time.Time `json:"passwordChangedAt,omitzero"`
}

// UserUpdate names the fields of a user to change; nil fields stay.
type UserUpdate struct {
	Email             *string
	Username          *string
	PasswordHash      *string
	Blocked           *bool
	PasswordChangedAt *time.Time
	UpdatedAt         time.Time
}

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
