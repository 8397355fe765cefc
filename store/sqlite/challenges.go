package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// challengeColumns are the columns scanChallenge reads.
const challengeColumns = `hash, user_id, first_factor, methods, ip, user_agent, facts, created_at, expires_at,
	attempts, outcome, ended_at, code_hash, code_expires_at, factor_state, session_id`

// scanChallenge reads the challengeColumns of one row.
func scanChallenge(row rowScanner) (*sessionmanager.Challenge, error) {
	var (
		c                             sessionmanager.Challenge
		methods, ip, facts, firstFctr string
		created, expires              int64
		ended, codeExpires            sql.NullInt64
	)
	err := row.Scan(&c.Hash, &c.UserID, &firstFctr, &methods, &ip, &c.UserAgent, &facts, &created, &expires,
		&c.Attempts, &c.Outcome, &ended, &c.CodeHash, &codeExpires, &c.FactorState, &c.SessionID)
	if err != nil {
		return nil, err
	}
	c.FirstFactor = sessionmanager.AuthMethod(firstFctr)
	c.Methods = sessionmanager.SplitAMR(methods)
	c.CreatedAt, c.ExpiresAt = timeOf(created), timeOf(expires)
	c.EndedAt, c.CodeExpiresAt = fromMicro(ended), fromMicro(codeExpires)
	if ip != "" {
		if c.IP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("challenge: stored ip: %w", err)
		}
	}
	if err := json.Unmarshal([]byte(facts), &c.Facts); err != nil {
		return nil, fmt.Errorf("challenge: stored facts: %w", err)
	}
	return &c, nil
}

// CreateChallenge stores a challenge by the keyed hash of its id.
func (s *Store) CreateChallenge(ctx context.Context, c *sessionmanager.Challenge) error {
	if len(c.Hash) == 0 || c.UserID == "" || c.CreatedAt.IsZero() || c.ExpiresAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"challenge": "hash, userId, createdAt and expiresAt are required"})
	}
	facts, err := json.Marshal(c.Facts)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO challenges (`+challengeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.UserID, string(c.FirstFactor), sessionmanager.JoinAMR(c.Methods), ipText(c.IP), c.UserAgent, string(facts),
		c.CreatedAt.UnixMicro(), c.ExpiresAt.UnixMicro(), c.Attempts, c.Outcome, micro(c.EndedAt),
		blob(c.CodeHash), micro(c.CodeExpiresAt), blob(c.FactorState), c.SessionID)
	switch {
	case isUnique(err):
		return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a challenge with this hash already exists")
	case isForeignKey(err):
		return sessionmanager.Errorf(sessionmanager.ENOTFOUND, "user not found")
	case err != nil:
		return fmt.Errorf("sqlite: create challenge: %w", err)
	}
	return nil
}

// ChallengeByHash returns the challenge or ENOTFOUND.
func (s *Store) ChallengeByHash(ctx context.Context, hash []byte) (*sessionmanager.Challenge, error) {
	c, err := scanChallenge(s.read.QueryRowContext(ctx, `SELECT `+challengeColumns+` FROM challenges WHERE hash = ?`, hash))
	if isNoRows(err) {
		return nil, notFound("challenge")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read challenge: %w", err)
	}
	return c, nil
}

// ReserveChallengeAttempt counts one proof in one guarded UPDATE: of
// concurrent calls at most max-attempts succeed.
func (s *Store) ReserveChallengeAttempt(ctx context.Context, hash []byte, now time.Time, max int) (*sessionmanager.Challenge, error) {
	c, err := scanChallenge(s.write.QueryRowContext(ctx, `UPDATE challenges SET attempts = attempts + 1
		WHERE hash = ? AND outcome = '' AND expires_at > ? AND attempts < ? RETURNING `+challengeColumns,
		hash, now.UnixMicro(), max))
	if err == nil {
		return c, nil
	}
	if !isNoRows(err) {
		return nil, fmt.Errorf("sqlite: reserve challenge attempt: %w", err)
	}
	cur, err := s.ChallengeByHash(ctx, hash)
	if sessionmanager.IsNotFound(err) {
		return nil, sessionmanager.ChallengeError(sessionmanager.ReasonChallengeUnknown)
	}
	if err != nil {
		return nil, err
	}
	return nil, sessionmanager.ChallengeError(closedOr(cur.ClosedReason(now, max)))
}

// closedOr is the reason a challenge refused a reservation: a row that
// looks open was ended or counted by a concurrent call meanwhile.
func closedOr(reason string) string {
	if reason == "" {
		return sessionmanager.ReasonChallengeUsed
	}
	return reason
}

// EndChallenge sets the outcome unless one is set: exactly one of
// concurrent calls ends it.
func (s *Store) EndChallenge(ctx context.Context, hash []byte, outcome string, at time.Time) (bool, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE challenges SET outcome = ?, ended_at = ? WHERE hash = ? AND outcome = ''`,
		outcome, at.UnixMicro(), hash)
	if err != nil {
		return false, fmt.Errorf("sqlite: end challenge: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetChallengeCode replaces the email code of an open challenge.
func (s *Store) SetChallengeCode(ctx context.Context, hash, codeHash []byte, expiresAt time.Time) error {
	return s.updateOpenChallenge(ctx, `code_hash = ?, code_expires_at = ?`, hash, codeHash, expiresAt.UnixMicro())
}

// SetChallengeState replaces the factor state of an open challenge.
func (s *Store) SetChallengeState(ctx context.Context, hash, state []byte) error {
	return s.updateOpenChallenge(ctx, `factor_state = ?`, hash, blob(state))
}

// updateOpenChallenge sets columns of a challenge without an outcome.
func (s *Store) updateOpenChallenge(ctx context.Context, set string, hash []byte, args ...any) error {
	res, err := s.write.ExecContext(ctx, `UPDATE challenges SET `+set+` WHERE hash = ? AND outcome = ''`, append(args, hash)...)
	if err != nil {
		return fmt.Errorf("sqlite: update challenge: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sessionmanager.ChallengeError(sessionmanager.ReasonChallengeUsed)
	}
	return nil
}

// PurgeChallenges deletes challenges that expired before the time.
func (s *Store) PurgeChallenges(ctx context.Context, expiredBefore time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at < ?`, expiredBefore.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge challenges: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// SetSessionAuth records a newer proof of a live session's user.
func (s *Store) SetSessionAuth(ctx context.Context, id string, a sessionmanager.AuthContext) error {
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET auth_time = ?, amr = ?, acr = ? WHERE id = ? AND status <> 'ended'`,
		micro(a.AuthTime), sessionmanager.JoinAMR(a.AMR), a.ACR, id)
	if err != nil {
		return fmt.Errorf("sqlite: set session auth: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("session")
	}
	return nil
}
