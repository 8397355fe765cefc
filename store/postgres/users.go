package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const userColumns = `id, email, username, password_hash, external_id, confirmed, password_unproven, blocked, created_at, updated_at, password_changed_at, password_reset_required`

// userInsertColumns are the columns a new user writes: userColumns and the
// identity keys.
var userInsertColumns = append(strings.Split(userColumns, ", "), "email_key", "username_key")

// insertUserSQL inserts one row of userInsertColumns.
var insertUserSQL = insertSQL("users", userInsertColumns)

// userValues are u's values of userInsertColumns.
func userValues(u *sm.User) []any {
	return []any{u.ID, u.Email, u.Username, u.PasswordHash, nullText(u.ExternalID), u.Confirmed, u.PasswordUnproven, u.Blocked,
		u.CreatedAt, u.UpdatedAt, nullTime(u.PasswordChangedAt), u.PasswordResetRequired, sm.IdentityKey(u.Email), sm.IdentityKey(u.Username)}
}

// scanUser reads a row of userColumns.
func scanUser(row pgx.Row) (*sm.User, error) {
	var u sm.User
	err := row.Scan(&u.ID, &u.Email, &u.Username, &u.PasswordHash, textOrEmpty{&u.ExternalID}, &u.Confirmed, &u.PasswordUnproven, &u.Blocked,
		utc(&u.CreatedAt), utc(&u.UpdatedAt), utc(&u.PasswordChangedAt), &u.PasswordResetRequired)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser inserts u; a duplicate id, email, username or external id is ECONFLICT.
func (s *Store) CreateUser(ctx context.Context, u *sm.User) error {
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	_, err := s.pool.Exec(ctx, insertUserSQL, userValues(u)...)
	return mapErr(err, "user")
}

// UserByID returns the user or ENOTFOUND.
func (s *Store) UserByID(ctx context.Context, id string) (*sm.User, error) {
	if !storable(id) {
		return nil, notFound("user")
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, mapErr(err, "user")
}

// UserByIdentifier finds a user by the identity key of its email or
// username; an email match wins over a username match.
func (s *Store) UserByIdentifier(ctx context.Context, identifier string) (*sm.User, error) {
	key := sm.IdentityKey(identifier)
	if key == "" || !storable(key) {
		return nil, notFound("user")
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE (email_key = $1 AND email <> '') OR (username_key = $1 AND username <> '')
		ORDER BY email_key = $1 DESC LIMIT 1`, key))
	return u, mapErr(err, "user")
}

// UserByExternalID finds a user by its id in another auth system.
func (s *Store) UserByExternalID(ctx context.Context, externalID string) (*sm.User, error) {
	if externalID == "" || !storable(externalID) {
		return nil, notFound("user")
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE external_id = $1`, externalID))
	return u, mapErr(err, "user")
}

// UpdateUser changes the non-nil fields of upd and returns the user.
func (s *Store) UpdateUser(ctx context.Context, id string, upd sm.UserUpdate) (*sm.User, error) {
	if !storable(id) {
		return nil, notFound("user")
	}
	var sets []string
	args := []any{id}
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if upd.Email != nil {
		set("email", *upd.Email)
		set("email_key", sm.IdentityKey(*upd.Email))
	}
	if upd.Username != nil {
		set("username", *upd.Username)
		set("username_key", sm.IdentityKey(*upd.Username))
	}
	if upd.PasswordHash != nil {
		set("password_hash", *upd.PasswordHash)
	}
	if upd.Blocked != nil {
		set("blocked", *upd.Blocked)
	}
	if upd.Confirmed != nil {
		set("confirmed", *upd.Confirmed)
	}
	if upd.PasswordUnproven != nil {
		set("password_unproven", *upd.PasswordUnproven)
	}
	if upd.PasswordResetRequired != nil {
		set("password_reset_required", *upd.PasswordResetRequired)
	}
	if upd.PasswordChangedAt != nil {
		set("password_changed_at", nullTime(*upd.PasswordChangedAt))
	}
	if !upd.UpdatedAt.IsZero() {
		set("updated_at", upd.UpdatedAt)
	}
	if upd.IfPasswordHash == nil && !upd.SpendTokens {
		if len(sets) == 0 {
			return s.UserByID(ctx, id)
		}
		u, err := scanUser(s.pool.QueryRow(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+
			` WHERE id = $1 RETURNING `+userColumns, args...))
		return u, mapErr(err, "user")
	}
	if len(sets) == 0 {
		sets = append(sets, "id = id") // a bare compare or spend
	}
	guard := ` WHERE id = $1`
	if upd.IfPasswordHash != nil {
		args = append(args, *upd.IfPasswordHash)
		guard += fmt.Sprintf(` AND password_hash = $%d`, len(args))
	}
	at := upd.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	var u *sm.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+guard+` RETURNING `+userColumns, args...))
		if errors.Is(err, pgx.ErrNoRows) && upd.IfPasswordHash != nil {
			var one int
			if tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1`, id).Scan(&one) == nil {
				return sm.ErrPasswordChanged
			}
		}
		if err != nil {
			return mapErr(err, "user")
		}
		if upd.SpendTokens {
			if _, err := tx.Exec(ctx, `UPDATE magic_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, id, at); err != nil {
				return fmt.Errorf("postgres: spend tokens: %w", err)
			}
		}
		return nil
	})
	return u, err
}

// userCursor is the sort key of the last user of a page.
type userCursor struct {
	CreatedAt int64  `json:"t"`
	ID        string `json:"id"`
}

// ListUsers lists users newest first, filtered by a search in email or
// username and by blocked state, a page at a time.
func (s *Store) ListUsers(ctx context.Context, f sm.UserFilter) ([]*sm.User, string, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Search != "" {
		if !storable(f.Search) {
			return []*sm.User{}, "", nil
		}
		p := arg(likePattern(f.Search))
		where = append(where, nameMatch("", p, f.Search))
	}
	if f.Blocked != nil {
		where = append(where, "blocked = "+arg(*f.Blocked))
	}
	if f.Cursor != "" {
		var c userCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(time.UnixMicro(c.CreatedAt).UTC()), arg(c.ID)))
	}
	q := `SELECT ` + userColumns + ` FROM users`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT " + arg(limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", mapErr(err, "users")
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.User, error) { return scanUser(r) })
	if err != nil {
		return nil, "", mapErr(err, "users")
	}
	next := ""
	if len(users) > limit {
		users = users[:limit]
		last := users[limit-1]
		next = encodeCursor(userCursor{CreatedAt: last.CreatedAt.UnixMicro(), ID: last.ID})
	}
	return users, next, nil
}

// backfillUserKeys fills the identity keys of rows that predate them,
// oldest first, so the older of two existing look-alike accounts gets the
// key. The newer keeps its lower-cased form (it cannot share the key) and
// shows as a look-alike in admin views.
func backfillUserKeys(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		rows, err := pool.Query(ctx, `SELECT id, email, username FROM users
			WHERE email_key IS NULL OR username_key IS NULL ORDER BY created_at, id LIMIT 500`)
		if err != nil {
			return mapErr(err, "backfill user keys")
		}
		type row struct{ id, email, username string }
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.email, &x.username)
		})
		if err != nil || len(batch) == 0 {
			return mapErr(err, "backfill user keys")
		}
		for _, x := range batch {
			_, err := pool.Exec(ctx, `UPDATE users SET email_key = $2, username_key = $3 WHERE id = $1`,
				x.id, sm.IdentityKey(x.email), sm.IdentityKey(x.username))
			if isUniqueViolation(err) {
				_, err = pool.Exec(ctx, `UPDATE users SET email_key = lower(email), username_key = lower(username) WHERE id = $1`, x.id)
			}
			if err != nil {
				return fmt.Errorf("postgres: backfill user keys: %w", err)
			}
		}
	}
}
