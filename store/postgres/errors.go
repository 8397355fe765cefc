package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// conflictMessages names, per unique index, what a duplicate means to a client.
var conflictMessages = map[string]string{
	"users_pkey":              "a user with this id already exists",
	"users_email_key":         "email is already taken",
	"users_username_key":      "username is already taken",
	"users_email_norm_key":    "email is already taken (or one that looks the same)",
	"users_username_norm_key": "username is already taken (or one that looks the same)",
	"users_external_id_key":   "a user with this external id already exists",
	"sessions_pkey":           "a session with this id already exists",
	"refresh_tokens_pkey":     "refresh token already exists",
	"signing_keys_pkey":       "a signing key with this id already exists",
	"admins_pkey":             "an admin with this id already exists",
	"admins_email_key":        "an admin with this email already exists",
	"admin_tokens_pkey":       "an admin token with this id already exists",
	"admin_tokens_hash_key":   "an admin token with this hash already exists",
	"magic_links_pkey":        "magic link already exists",
	"challenges_pkey":         "a challenge with this hash already exists",
}

// mapErr turns a driver error into the domain's *Error where the cause is the
// caller's input (a duplicate, a missing row, a value the database rejects);
// anything else stays an internal error, wrapped with what was being done.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var de *sm.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return sm.Errorf(sm.ENOTFOUND, "%s not found", what)
	}
	if unavailable(err) {
		return &sm.Error{Code: sm.EUNAVAILABLE, Message: "database unavailable; try again", RetryAfterSeconds: 1, Cause: fmt.Errorf("postgres: %s: %w", what, err)}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		var mapped *sm.Error
		switch {
		case pe.Code == "23505":
			mapped = sm.Errorf(sm.ECONFLICT, "%s already exists", what)
			if msg, ok := conflictMessages[pe.ConstraintName]; ok {
				mapped.Message = msg
			}
		case pe.Code == "23503":
			mapped = sm.Errorf(sm.EINVALID, "%s refers to a record that does not exist", what)
		case pe.Code == "40P01" || pe.Code == "40001":
			// A deadlock or serialization failure: PostgreSQL rolled the
			// transaction back, nothing was decided, the client may retry.
			mapped = &sm.Error{Code: sm.EUNAVAILABLE, Message: "a concurrent change got in the way; try again", RetryAfterSeconds: 1}
		case strings.HasPrefix(pe.Code, "22"):
			// Data exceptions: NUL bytes, invalid UTF-8, out-of-range numbers.
			mapped = sm.Errorf(sm.EINVALID, "%s: a value is not valid", what)
		}
		if mapped != nil {
			mapped.Cause = err // for the logs; the client sees Message
			return mapped
		}
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// unavailable reports a lost or refused connection (a restart, a failover,
// a server shutting down): nothing was decided, the client may retry, so it
// gets 503 rather than 500.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err)
}

// notFound is the ENOTFOUND error for a missing record.
func notFound(what string) error { return sm.Errorf(sm.ENOTFOUND, "%s not found", what) }

// deadlockAttempts bounds the retries of a statement that PostgreSQL chose
// as a deadlock victim.
const deadlockAttempts = 3

// retryDeadlock runs fn again when PostgreSQL aborts it to break a deadlock
// (40P01): bulk updates of sessions (touch, sweep, erase) may lock rows in
// different orders, and the victim's work is safe to repeat.
func retryDeadlock(ctx context.Context, fn func() error) error {
	var err error
	for range deadlockAttempts {
		var pe *pgconn.PgError
		if err = fn(); !errors.As(err, &pe) || pe.Code != "40P01" || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
