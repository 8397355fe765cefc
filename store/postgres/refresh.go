package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// RefreshTokenByHash finds a current or replaced refresh token.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (*sm.RefreshToken, error) {
	var t sm.RefreshToken
	err := s.pool.QueryRow(ctx, `SELECT hash, session_id, created_at, replaced_at FROM refresh_tokens WHERE hash = $1`, hash).
		Scan(&t.Hash, &t.SessionID, utc(&t.CreatedAt), utc(&t.ReplacedAt))
	if err != nil {
		return nil, mapErr(err, "refresh token")
	}
	return &t, nil
}

// errRotateConflict is the answer to a rotation that lost: the old token is
// no longer current or the session has ended.
func errRotateConflict() error {
	return sm.Errorf(sm.ECONFLICT, "refresh token is no longer current")
}

// RotateRefreshToken replaces the session's current token in one
// transaction. The conditional UPDATE is the arbiter: concurrent callers
// queue on the token's row lock, and after the winner commits the others
// re-check replaced_at IS NULL, find it false and update nothing.
func (s *Store) RotateRefreshToken(ctx context.Context, r sm.RotateRefresh) error {
	if !storable(r.SessionID) || len(r.NewHash) == 0 {
		return errRotateConflict()
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET replaced_at = $3
			WHERE hash = $1 AND session_id = $2 AND replaced_at IS NULL
			  AND EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND status <> 'ended')`,
			r.OldHash, r.SessionID, r.At)
		if err != nil {
			return mapErr(err, "refresh token")
		}
		if tag.RowsAffected() == 0 {
			return errRotateConflict()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)`,
			r.NewHash, r.SessionID, r.At); err != nil {
			return mapErr(err, "refresh token")
		}
		// The session row lock also orders this rotation after a concurrent
		// EndSession: an ended session keeps its ended state.
		tag, err = tx.Exec(ctx, `UPDATE sessions SET refresh_sealed = $2, refresh_rotated_at = $3
			WHERE id = $1 AND status <> 'ended'`, r.SessionID, nullBytes(r.NewSealed), r.At)
		if err != nil {
			return mapErr(err, "session")
		}
		if tag.RowsAffected() == 0 {
			return errRotateConflict()
		}
		return nil
	})
}
