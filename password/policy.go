package password

import sm "github.com/magic-sessionmanager/sessionmanager"

// Password policy: the root package's (sm.ValidatePassword), which a
// Manager applies by default.
const (
	// MinChars and MaxChars bound the length in characters (runes).
	MinChars = sm.PasswordMinChars
	MaxChars = sm.PasswordMaxChars
	// MaxBytes bounds the UTF-8 length.
	MaxBytes = sm.PasswordMaxBytes
)

// Validate checks password against the policy; the error is EINVALID and
// names the field "password" with a message fit to show the user.
func Validate(password string) error { return sm.ValidatePassword(password) }

func tooLong() error { return sm.PasswordTooLong() }
