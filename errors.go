package sessionmanager

import (
	"errors"
	"fmt"
	"strconv"
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
	// Name, when set, is the error's name in the answer (Strapi's
	// error.name, e.g. "BadRequestError") instead of the one its status
	// implies.
	Name string
	// Fields names each invalid input field with why it is invalid.
	Fields map[string]string
	// RetryAfter, when set, tells the client when to try again (ETOOMANY).
	RetryAfterSeconds int
	// Details are more machine-readable facts for the answer's details
	// (e.g. the feature and edition of a feature_locked refusal).
	Details map[string]string
	// Challenge is the pending challenge of a challenge_required answer
	// (details.challenge).
	Challenge *ChallengeRequired
	// Cause is the underlying error (a driver's, the network's), for the
	// logs and errors.Is/As; it is never shown to a client, who sees
	// Message only.
	Cause error
	// ended marks the refusal of a request on an ended session
	// (SessionTerminated), whatever its reason says.
	ended bool
}

// SessionTerminated is the 401 of a request on an ended session; reason is
// the end reason (any reason: one this version does not know, or none,
// still marks the session as terminated).
func SessionTerminated(reason EndReason) *Error {
	return &Error{Code: EUNAUTHORIZED, Message: "Session terminated", Reason: string(reason), ended: true}
}

// Error is the text for logs: code, message, reason and cause.
func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the cause, so errors.Is and errors.As see through.
func (e *Error) Unwrap() error { return e.Cause }

// WrapError returns an *Error with the code and a client-safe message that
// keeps err as its cause.
func WrapError(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Cause: err}
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields returns an EINVALID error that names each bad field. Its
// message says what is wrong the way Strapi's validation does: the one bad
// field and why ("identifier is required"), or how many ("2 errors
// occurred").
func InvalidFields(fields map[string]string) *Error {
	msg := "invalid input"
	switch len(fields) {
	case 0:
	case 1:
		for f, problem := range fields {
			msg = f + " " + problem
		}
	default:
		msg = strconv.Itoa(len(fields)) + " errors occurred"
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
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

// TerminatedReason returns the end reason of err when it is the refusal of
// a request on an ended session (a SessionTerminated error), for the
// X-Session-Terminated-Reason header. It goes by the error's mark, never
// by its text nor by a list of known reasons.
func TerminatedReason(err error) (EndReason, bool) {
	var e *Error
	if !errors.As(err, &e) || !e.ended {
		return "", false
	}
	return EndReason(e.Reason), true
}

// IsNotFound reports whether err has code ENOTFOUND.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }
