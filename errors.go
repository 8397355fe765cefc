package sessionmanager

import (
	"errors"
	"fmt"
)

// Error codes. httpapi holds the one map from code to HTTP status.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOMANY      = "too_many_requests"
	EUNAVAILABLE  = "unavailable"
)

// Error is the one error type of the domain: a code, a message safe to show
// to a client, and optional details (field errors, a reason code).
type Error struct {
	Code    string
	Message string
	// Reason is a machine-readable reason code, e.g. "refresh_reuse" or "tor".
	Reason string
	// Fields names each invalid input field with why it is invalid.
	Fields map[string]string
	// RetryAfter, when set, tells the client when to try again (ETOOMANY).
	RetryAfterSeconds int
	// Details are more machine-readable facts for the answer's details
	// (e.g. the feature and edition of a feature_locked refusal).
	Details map[string]string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields returns an EINVALID error that names each bad field.
func InvalidFields(fields map[string]string) *Error {
	return &Error{Code: EINVALID, Message: "invalid input", Fields: fields}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not *Error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err; "internal error" for
// errors that are not *Error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsNotFound reports whether err has code ENOTFOUND.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }
