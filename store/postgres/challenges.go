package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// challengeColumns are the columns scanChallenge reads.
const challengeColumns = `hash, user_id, first_factor, methods, ip, user_agent, facts, created_at, expires_at,
	attempts, outcome, ended_at, code_hash, code_expires_at, factor_state, session_id`

// scanChallenge reads a row of challengeColumns.
func scanChallenge(row pgx.Row) (*sm.Challenge, error) {
	var (
		c                               sm.Challenge
		firstFactor, methods, ip, facts string
	)
	err := row.Scan(&c.Hash, &c.UserID, &firstFactor, &methods, &ip, &c.UserAgent, &facts, utc(&c.CreatedAt), utc(&c.ExpiresAt),
		&c.Attempts, &c.Outcome, utc(&c.EndedAt), &c.CodeHash, utc(&c.CodeExpiresAt), &c.FactorState, &c.SessionID)
	if err != nil {
		return nil, err
	}
	c.FirstFactor, c.Methods = sm.AuthMethod(firstFactor), sm.SplitAMR(methods)
	if ip != "" {
		c.IP, _ = netip.ParseAddr(ip)
	}
	if err := json.Unmarshal([]byte(facts), &c.Facts); err != nil {
		return nil, fmt.Errorf("challenge facts: %w", err)
	}
	return &c, nil
}

// CreateChallenge stores a challenge by the keyed hash of its id.
func (s *Store) CreateChallenge(ctx context.Context, c *sm.Challenge) error {
	if len(c.Hash) == 0 || c.UserID == "" || c.CreatedAt.IsZero() || c.ExpiresAt.IsZero() {
		return sm.InvalidFields(map[string]string{"challenge": "hash, userId, createdAt and expiresAt are required"})
	}
	facts, err := jsonText(c.Facts)
	if err != nil {
		return fmt.Errorf("postgres: challenge facts: %w", err)
	}
	ip := ""
	if c.IP.IsValid() {
		ip = c.IP.String()
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO challenges (`+challengeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.Hash, c.UserID, string(c.FirstFactor), sm.JoinAMR(c.Methods), ip, c.UserAgent, facts, c.CreatedAt, c.ExpiresAt,
		c.Attempts, c.Outcome, nullTime(c.EndedAt), nullBytes(c.CodeHash), nullTime(c.CodeExpiresAt), nullBytes(c.FactorState), c.SessionID)
	return mapErr(err, "challenge")
}

// ChallengeByHash returns the challenge or ENOTFOUND.
func (s *Store) ChallengeByHash(ctx context.Context, hash []byte) (*sm.Challenge, error) {
	c, err := scanChallenge(s.pool.QueryRow(ctx, `SELECT `+challengeColumns+` FROM challenges WHERE hash = $1`, hash))
	return c, mapErr(err, "challenge")
}

// ReserveChallengeAttempt counts one proof in one guarded UPDATE: of
// concurrent calls at most max-attempts succeed (the row lock orders them).
func (s *Store) ReserveChallengeAttempt(ctx context.Context, hash []byte, now time.Time, max int) (*sm.Challenge, error) {
	c, err := scanChallenge(s.pool.QueryRow(ctx, `UPDATE challenges SET attempts = attempts + 1
		WHERE hash = $1 AND outcome = '' AND expires_at > $2 AND attempts < $3 RETURNING `+challengeColumns, hash, now, max))
	if err == nil {
		return c, nil
	}
	if err != pgx.ErrNoRows {
		return nil, mapErr(err, "challenge")
	}
	cur, err := s.ChallengeByHash(ctx, hash)
	if sm.IsNotFound(err) {
		return nil, sm.ChallengeError(sm.ReasonChallengeUnknown)
	}
	if err != nil {
		return nil, err
	}
	reason := cur.ClosedReason(now, max)
	if reason == "" { // ended or counted by a concurrent call meanwhile
		reason = sm.ReasonChallengeUsed
	}
	return nil, sm.ChallengeError(reason)
}

// EndChallenge sets the outcome unless one is set: exactly one of
// concurrent calls ends it.
func (s *Store) EndChallenge(ctx context.Context, hash []byte, outcome string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE challenges SET outcome = $2, ended_at = $3 WHERE hash = $1 AND outcome = ''`, hash, outcome, at)
	if err != nil {
		return false, mapErr(err, "challenge")
	}
	return tag.RowsAffected() == 1, nil
}

// SetChallengeCode replaces the email code of an open challenge.
func (s *Store) SetChallengeCode(ctx context.Context, hash, codeHash []byte, expiresAt time.Time) error {
	return s.updateOpenChallenge(ctx, `code_hash = $2, code_expires_at = $3`, hash, codeHash, expiresAt)
}

// SetChallengeState replaces the factor state of an open challenge.
func (s *Store) SetChallengeState(ctx context.Context, hash, state []byte) error {
	return s.updateOpenChallenge(ctx, `factor_state = $2`, hash, nullBytes(state))
}

// updateOpenChallenge sets columns ($2...) of a challenge ($1) without an outcome.
func (s *Store) updateOpenChallenge(ctx context.Context, set string, hash []byte, args ...any) error {
	tag, err := s.pool.Exec(ctx, `UPDATE challenges SET `+set+` WHERE hash = $1 AND outcome = ''`, append([]any{hash}, args...)...)
	if err != nil {
		return mapErr(err, "challenge")
	}
	if tag.RowsAffected() == 0 {
		return sm.ChallengeError(sm.ReasonChallengeUsed)
	}
	return nil
}

// PurgeChallenges deletes challenges that expired before the time.
func (s *Store) PurgeChallenges(ctx context.Context, expiredBefore time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM challenges WHERE expires_at < $1`, expiredBefore)
	if err != nil {
		return 0, mapErr(err, "challenge")
	}
	return int(tag.RowsAffected()), nil
}

// SetSessionAuth records a newer proof of a live session's user.
func (s *Store) SetSessionAuth(ctx context.Context, id string, a sm.AuthContext) error {
	if !storable(id) {
		return notFound("session")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET auth_time = $2, amr = $3, acr = $4 WHERE id = $1 AND status <> 'ended'`,
		id, nullTime(a.AuthTime), sm.JoinAMR(a.AMR), a.ACR)
	if err != nil {
		return mapErr(err, "session")
	}
	if tag.RowsAffected() == 0 {
		return notFound("session")
	}
	return nil
}
