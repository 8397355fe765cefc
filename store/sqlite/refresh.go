package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// RefreshTokenByHash finds a current or replaced refresh token.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (*sessionmanager.RefreshToken, error) {
	var (
		rt       sessionmanager.RefreshToken
		created  int64
		replaced sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, `SELECT hash, session_id, created_at, replaced_at FROM refresh_tokens WHERE hash = ?`, hash).
		Scan(&rt.Hash, &rt.SessionID, &created, &replaced)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("refresh token")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read refresh token: %w", err)
	}
	rt.CreatedAt, rt.ReplacedAt = timeOf(created), fromMicro(replaced)
	return &rt, nil
}

// RotateRefreshToken replaces the session's current token in one
// transaction. The guarded UPDATE is what makes exactly one of concurrent
// rotations win: only one can see replaced_at IS NULL.
func (s *Store) RotateRefreshToken(ctx context.Context, r sessionmanager.RotateRefresh) error {
	if len(r.NewHash) == 0 {
		return sessionmanager.InvalidFields(map[string]string{"newHash": "is required"})
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET replaced_at = ?
			WHERE hash = ? AND session_id = ? AND replaced_at IS NULL
			AND EXISTS (SELECT 1 FROM sessions WHERE id = ? AND status <> 'ended')`,
			r.At.UnixMicro(), r.OldHash, r.SessionID, r.SessionID)
		if err != nil {
			return fmt.Errorf("sqlite: rotate refresh token: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return sessionmanager.Errorf(sessionmanager.ECONFLICT, "the refresh token is not current or the session has ended")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)`,
			r.NewHash, r.SessionID, r.At.UnixMicro())
		if isUnique(err) {
			return sessionmanager.Errorf(sessionmanager.ECONFLICT, "this refresh token hash is already in use")
		}
		if err != nil {
			return fmt.Errorf("sqlite: rotate refresh token: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET refresh_sealed = ?, refresh_rotated_at = ? WHERE id = ?`,
			blob(r.NewSealed), r.At.UnixMicro(), r.SessionID)
		if err != nil {
			return fmt.Errorf("sqlite: rotate refresh token: %w", err)
		}
		return nil
	})
}
