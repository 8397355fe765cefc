package sessionmanager

import (
	"fmt"
	"unicode/utf8"
)

// The password policy (NIST SP 800-63B: length, not composition rules),
// applied when Config.ValidatePassword is nil.
const (
	// PasswordMinChars and PasswordMaxChars bound the length in characters
	// (runes).
	PasswordMinChars = 8
	PasswordMaxChars = 128
	// PasswordMaxBytes bounds the UTF-8 length: 128 characters of up to 4
	// bytes would be 512, so only abuse reaches it.
	PasswordMaxBytes = 1024
)

// ValidatePassword checks password against the policy; the error is
// EINVALID and names the field "password" with a message fit to show the
// user.
func ValidatePassword(password string) error {
	switch n := utf8.RuneCountInString(password); {
	case len(password) > PasswordMaxBytes:
		return PasswordTooLong()
	case !utf8.ValidString(password):
		return invalidPassword("password must be valid UTF-8 text")
	case n < PasswordMinChars:
		return invalidPassword(fmt.Sprintf("password must be at least %d characters", PasswordMinChars))
	case n > PasswordMaxChars:
		return invalidPassword(fmt.Sprintf("password must be at most %d characters", PasswordMaxChars))
	}
	return nil
}

// PasswordTooLong is the refusal of a password over PasswordMaxBytes.
func PasswordTooLong() *Error {
	return invalidPassword(fmt.Sprintf("password must be at most %d characters", PasswordMaxChars))
}

func invalidPassword(msg string) *Error {
	return &Error{Code: EINVALID, Message: msg, Fields: map[string]string{"password": msg}}
}
