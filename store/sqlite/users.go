package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

const userColumns = `id, email, username, password_hash, coalesce(external_id, ''), confirmed, password_unproven, password_reset_required, blocked, created_at, updated_at, password_changed_at`

// scanUser reads the userColumns of one row.
func scanUser(row rowScanner) (*sessionmanager.User, error) {
	var (
		u                        sessionmanager.User
		created                  int64
		updated, passwordChanged sql.NullInt64
	)
	if err := row.Scan(&u.ID, &u.Email, &u.Username, &u.PasswordHash, &u.ExternalID, &u.Confirmed, &u.PasswordUnproven, &u.PasswordResetRequired, &u.Blocked, &created, &updated, &passwordChanged); err != nil {
		return nil, err
	}
	u.CreatedAt = timeOf(created)
	u.UpdatedAt = fromMicro(updated)
	u.PasswordChangedAt = fromMicro(passwordChanged)
	return &u, nil
}

// userConflict is the error for a duplicate email, username or external id.
func userConflict() error {
	return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a user with this email, username or external id already exists")
}

// userInsertColumns are the columns a new user writes, in the order of
// userValues.
var userInsertColumns = []string{"id", "email", "email_key", "username", "username_key", "key_form", "password_hash", "external_id",
	"confirmed", "password_unproven", "password_reset_required", "blocked", "created_at", "updated_at", "password_changed_at"}

// insertUserSQL inserts one row of userInsertColumns.
var insertUserSQL = insertRowsSQL("users", userInsertColumns, 1)

// userValues are u's values of userInsertColumns.
func userValues(u *sessionmanager.User) []any {
	return []any{u.ID, u.Email, sessionmanager.IdentityKey(u.Email), u.Username, sessionmanager.IdentityKey(u.Username), 1, u.PasswordHash,
		nullText(u.ExternalID), u.Confirmed, u.PasswordUnproven, u.PasswordResetRequired, u.Blocked, u.CreatedAt.UnixMicro(), micro(u.UpdatedAt), micro(u.PasswordChangedAt)}
}

// CreateUser inserts u; a duplicate email, username or external id is ECONFLICT.
func (s *Store) CreateUser(ctx context.Context, u *sessionmanager.User) error {
	if u.ID == "" || u.CreatedAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"id": "and createdAt are required"})
	}
	_, err := s.write.ExecContext(ctx, insertUserSQL, userValues(u)...)
	if isUnique(err) {
		return userConflict()
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return nil
}

// userWhere reads the one user matching cond.
func (s *Store) userWhere(ctx context.Context, q sqlQuerier, cond string, args ...any) (*sessionmanager.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+cond+` LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read user: %w", err)
	}
	return u, nil
}

// UserByID returns the user or ENOTFOUND.
func (s *Store) UserByID(ctx context.Context, id string) (*sessionmanager.User, error) {
	return s.userWhere(ctx, s.read, `id = ?`, id)
}

// UserByIdentifier finds a user by the identity key of its email or username.
func (s *Store) UserByIdentifier(ctx context.Context, identifier string) (*sessionmanager.User, error) {
	key := sessionmanager.IdentityKey(identifier)
	if key == "" {
		return nil, notFound("user")
	}
	// An email match wins over a username that happens to equal it.
	return s.userWhere(ctx, s.read, `email_key = ? OR username_key = ? ORDER BY email_key = ? DESC`, key, key, key)
}

// UserByExternalID finds a user by its id in another auth system.
func (s *Store) UserByExternalID(ctx context.Context, externalID string) (*sessionmanager.User, error) {
	if externalID == "" {
		return nil, notFound("user")
	}
	return s.userWhere(ctx, s.read, `external_id = ?`, externalID)
}

// UpdateUser changes the non-nil fields of upd and returns the user.
func (s *Store) UpdateUser(ctx context.Context, id string, upd sessionmanager.UserUpdate) (*sessionmanager.User, error) {
	var w where
	if upd.Email != nil {
		w.add(`email = ?, email_key = ?`, *upd.Email, sessionmanager.IdentityKey(*upd.Email))
	}
	if upd.Username != nil {
		w.add(`username = ?, username_key = ?`, *upd.Username, sessionmanager.IdentityKey(*upd.Username))
	}
	if upd.PasswordHash != nil {
		w.add(`password_hash = ?`, *upd.PasswordHash)
	}
	if upd.Blocked != nil {
		w.add(`blocked = ?`, *upd.Blocked)
	}
	if upd.Confirmed != nil {
		w.add(`confirmed = ?`, *upd.Confirmed)
	}
	if upd.PasswordUnproven != nil {
		w.add(`password_unproven = ?`, *upd.PasswordUnproven)
	}
	if upd.PasswordResetRequired != nil {
		w.add(`password_reset_required = ?`, *upd.PasswordResetRequired)
	}
	if upd.PasswordChangedAt != nil {
		w.add(`password_changed_at = ?`, micro(*upd.PasswordChangedAt))
	}
	if !upd.UpdatedAt.IsZero() {
		w.add(`updated_at = ?`, upd.UpdatedAt.UnixMicro())
	}
	if upd.IfPasswordHash != nil && len(w.conds) == 0 {
		w.add(`id = id`) // a bare compare: still checked below
	}
	guard, guardArgs := ` WHERE id = ?`, []any{id}
	if upd.IfPasswordHash != nil {
		guard, guardArgs = ` WHERE id = ? AND password_hash = ?`, []any{id, *upd.IfPasswordHash}
	}
	var u *sessionmanager.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if len(w.conds) > 0 {
			res, err := tx.ExecContext(ctx, `UPDATE users SET `+strings.Join(w.conds, ", ")+guard, append(w.args, guardArgs...)...)
			if isUnique(err) {
				return userConflict()
			}
			if err := mustAffect(res, err, "user"); err != nil {
				if upd.IfPasswordHash != nil && sessionmanager.IsNotFound(err) {
					if _, e := s.userWhere(ctx, tx, `id = ?`, id); e == nil {
						return sessionmanager.ErrPasswordChanged
					}
				}
				return err
			}
		}
		if upd.SpendTokens {
			at := upd.UpdatedAt
			if at.IsZero() {
				at = time.Now()
			}
			if _, err := tx.ExecContext(ctx, `UPDATE magic_links SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, at.UnixMicro(), id); err != nil {
				return fmt.Errorf("sqlite: spend tokens: %w", err)
			}
		}
		var err error
		u, err = s.userWhere(ctx, tx, `id = ?`, id)
		return err
	})
	return u, err
}

// ListUsers returns a page of users, newest first.
func (s *Store) ListUsers(ctx context.Context, f sessionmanager.UserFilter) ([]*sessionmanager.User, string, error) {
	var w where
	if f.Search != "" {
		p := likeContains(f.Search)
		w.add(`(email_key LIKE ? ESCAPE '\' OR username_key LIKE ? ESCAPE '\')`, p, p)
	}
	if f.Blocked != nil {
		w.add(`blocked = ?`, *f.Blocked)
	}
	if f.Cursor != "" {
		key, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add(`(created_at, id) < (?, ?)`, key, id)
	}
	limit := pageLimit(f.Limit)
	users, err := queryAll(ctx, s.read, "list users", scanUser, `SELECT `+userColumns+` FROM users`+w.String()+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	users, next := pageOf(users, limit, func(u *sessionmanager.User) string {
		return encodeCursor(u.CreatedAt.UnixMicro(), u.ID)
	})
	return users, next, nil
}

// backfillUserKeys rewrites the identity keys of rows migrated from the
// lower-cased form (key_form 0), oldest first, so the older of two
// existing look-alike accounts gets the key. The newer keeps its old key
// (it cannot share one) and shows as a look-alike in admin views.
func (s *Store) backfillUserKeys(ctx context.Context) error {
	for {
		type row struct{ id, email, username string }
		rows, err := queryAll(ctx, s.write, "backfill user keys", func(r rowScanner) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.email, &x.username)
		}, `SELECT id, email, username FROM users WHERE key_form = 0 ORDER BY created_at, id LIMIT 500`)
		if err != nil || len(rows) == 0 {
			return err
		}
		for _, x := range rows {
			_, err := s.write.ExecContext(ctx, `UPDATE users SET email_key = ?, username_key = ?, key_form = 1 WHERE id = ?`,
				sessionmanager.IdentityKey(x.email), sessionmanager.IdentityKey(x.username), x.id)
			if isUnique(err) {
				_, err = s.write.ExecContext(ctx, `UPDATE users SET key_form = 1 WHERE id = ?`, x.id)
			}
			if err != nil {
				return fmt.Errorf("sqlite: backfill user keys: %w", err)
			}
		}
	}
}
