package password

import (
	"fmt"
	"unicode/utf8"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Password policy (NIST SP 800-63B: length, not composition rules).
const (
	// MinChars and MaxChars bound the length in characters (runes).
	MinChars = 8
	MaxChars = 128
	// MaxBytes bounds the UTF-8 length: 128 characters of up to 4 bytes
	// would be 512, so only abuse reaches it.
	MaxBytes = 1024
)

// Validate checks password against the policy; the error is EINVALID and
// names the field "password" with a message fit to show the user.
func Validate(password string) error {
	switch n := utf8.RuneCountInString(password); {
	case len(password) > MaxBytes:
		return tooLong()
	case !utf8.ValidString(password):
		return invalidPassword("password must be valid UTF-8 text")
	case n < MinChars:
		return invalidPassword(fmt.Sprintf("password must be at least %d characters", MinChars))
	case n > MaxChars:
		return invalidPassword(fmt.Sprintf("password must be at most %d characters", MaxChars))
	}
	return nil
}

func tooLong() error {
	return invalidPassword(fmt.Sprintf("password must be at most %d characters", MaxChars))
}

func invalidPassword(msg string) error {
	return &sm.Error{Code: sm.EINVALID, Message: msg, Fields: map[string]string{"password": msg}}
}
