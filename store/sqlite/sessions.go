package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// sessionColumns are the columns scanSession reads, with the user's email
// and username joined from users (alias u).
const sessionColumns = `s.id, s.user_id, coalesce(u.email, ''), coalesce(u.username, ''), s.status, s.end_reason,
	s.auth_method, s.created_at, s.last_seen_at, s.ended_at, s.expires_at, s.ip, s.user_agent,
	s.device_type, s.browser, s.browser_version, s.os, s.os_version, s.location,
	s.threat_vpn, s.threat_proxy, s.threat_tor, s.threat_datacenter, s.threat_known,
	s.score, s.reasons, s.refresh_family, s.refresh_sealed, s.refresh_rotated_at, s.device_id,
	s.auth_time, s.amr, s.acr, s.suspected, s.suspected_at, s.dpop_jkt`

// sessionFrom is the FROM clause that goes with sessionColumns.
const sessionFrom = ` FROM sessions s LEFT JOIN users u ON u.id = s.user_id`

// scanSession reads the sessionColumns of one row, then more (columns the
// query selects after them).
func scanSession(row rowScanner, more ...any) (*sessionmanager.Session, error) {
	var (
		s                       sessionmanager.Session
		created, lastSeen       int64
		ended, expires, rotated sql.NullInt64
		authTime, suspectedAt   sql.NullInt64
		ip, location, reasons   string
		amr                     string
	)
	err := row.Scan(append([]any{&s.ID, &s.UserID, &s.UserEmail, &s.Username, &s.Status, &s.EndReason,
		&s.AuthMethod, &created, &lastSeen, &ended, &expires, &ip, &s.UserAgent,
		&s.Device.Type, &s.Device.Browser, &s.Device.BrowserVersion, &s.Device.OS, &s.Device.OSVersion, &location,
		&s.Threat.VPN, &s.Threat.Proxy, &s.Threat.Tor, &s.Threat.Datacenter, &s.Threat.KnownThreat,
		&s.Score, &reasons, &s.RefreshFamily, &s.RefreshSealed, &rotated, &s.DeviceID,
		&authTime, &amr, &s.ACR, &s.Suspected, &suspectedAt, &s.DPoPJKT}, more...)...)
	if err != nil {
		return nil, err
	}
	s.AuthTime, s.AMR, s.SuspectedAt = fromMicro(authTime), sessionmanager.SplitAMR(amr), fromMicro(suspectedAt)
	s.CreatedAt, s.LastSeenAt = timeOf(created), timeOf(lastSeen)
	s.EndedAt, s.ExpiresAt, s.RefreshRotatedAt = fromMicro(ended), fromMicro(expires), fromMicro(rotated)
	if ip != "" {
		if s.IP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("session %s: stored ip: %w", s.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(location), &s.Location); err != nil {
		return nil, fmt.Errorf("session %s: stored location: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(reasons), &s.Reasons); err != nil {
		return nil, fmt.Errorf("session %s: stored reasons: %w", s.ID, err)
	}
	return &s, nil
}

// ipText and ipBlob are the two stored forms of an address: the text as
// given, and 16 bytes of the unmapped address so ranges compare bytewise.
func ipText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func ipBlob(a netip.Addr) any {
	if !a.IsValid() {
		return nil
	}
	b := a.Unmap().As16()
	return b[:]
}

// sessionInsertColumns are the columns a new session writes, in the order
// of sessionValues.
var sessionInsertColumns = []string{"id", "user_id", "status", "end_reason", "auth_method",
	"created_at", "last_seen_at", "ended_at", "expires_at", "ip", "ip_bin", "user_agent",
	"device_type", "browser", "browser_version", "os", "os_version", "country_code", "city", "location",
	"threat_vpn", "threat_proxy", "threat_tor", "threat_datacenter", "threat_known",
	"score", "reasons", "refresh_family", "refresh_sealed", "refresh_rotated_at", "device_id",
	"auth_time", "amr", "acr", "dpop_jkt"}

// insertSessionSQL inserts one row of sessionInsertColumns.
var insertSessionSQL = insertRowsSQL("sessions", sessionInsertColumns, 1)

// sessionValues are sess's values of sessionInsertColumns, with the
// defaults filled in (active, last seen at creation) as for every insert,
// bulk loads included.
func sessionValues(sess *sessionmanager.Session) ([]any, error) {
	if sess.Status == "" {
		sess.Status = sessionmanager.StatusActive
	}
	if sess.LastSeenAt.IsZero() {
		sess.LastSeenAt = sess.CreatedAt
	}
	location, err := json.Marshal(sess.Location)
	if err != nil {
		return nil, err
	}
	reasons, err := json.Marshal(sess.Reasons)
	if err != nil {
		return nil, err
	}
	return []any{sess.ID, sess.UserID, string(sess.Status), string(sess.EndReason), string(sess.AuthMethod),
		sess.CreatedAt.UnixMicro(), sess.LastSeenAt.UnixMicro(), micro(sess.EndedAt), micro(sess.ExpiresAt),
		ipText(sess.IP), ipBlob(sess.IP), sess.UserAgent,
		sess.Device.Type, sess.Device.Browser, sess.Device.BrowserVersion, sess.Device.OS, sess.Device.OSVersion,
		sess.Location.CountryCode, sess.Location.City, string(location),
		bit(sess.Threat.VPN), bit(sess.Threat.Proxy), bit(sess.Threat.Tor), bit(sess.Threat.Datacenter), bit(sess.Threat.KnownThreat),
		sess.Score, string(reasons), sess.RefreshFamily, blob(sess.RefreshSealed), micro(sess.RefreshRotatedAt), sess.DeviceID,
		micro(sess.AuthTime), sessionmanager.JoinAMR(sess.AMR), sess.ACR, sess.DPoPJKT}, nil
}

// CreateSession inserts s and its first refresh token hash in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess *sessionmanager.Session, refreshHash []byte) error {
	if sess.ID == "" || sess.UserID == "" || sess.CreatedAt.IsZero() {
		return sessionmanager.InvalidFields(map[string]string{"session": "id, userId and createdAt are required"})
	}
	values, err := sessionValues(sess)
	if err != nil {
		return err
	}
	if !sess.Status.Valid() {
		return sessionmanager.InvalidFields(map[string]string{"status": "is not a session status"})
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertSessionSQL, values...)
		if isUnique(err) {
			return sessionmanager.Errorf(sessionmanager.ECONFLICT, "a session with this id already exists")
		}
		if isForeignKey(err) {
			return sessionmanager.Errorf(sessionmanager.ENOTFOUND, "user not found")
		}
		if err != nil {
			return fmt.Errorf("sqlite: create session: %w", err)
		}
		if len(refreshHash) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)`,
			refreshHash, sess.ID, sess.CreatedAt.UnixMicro())
		if isUnique(err) {
			return sessionmanager.Errorf(sessionmanager.ECONFLICT, "this refresh token hash is already in use")
		}
		if err != nil {
			return fmt.Errorf("sqlite: create refresh token: %w", err)
		}
		return nil
	})
}

// sessionByID reads one session, its trail included, through q.
func sessionByID(ctx context.Context, q sqlQuerier, id string) (*sessionmanager.Session, error) {
	var trail string
	sess, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+`, s.trail`+sessionFrom+` WHERE s.id = ?`, id), &trail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read session: %w", err)
	}
	// An empty trail reads as none (nil), like a session never written.
	if trail != "[]" {
		if err := json.Unmarshal([]byte(trail), &sess.Trail); err != nil {
			return nil, fmt.Errorf("session %s: stored trail: %w", sess.ID, err)
		}
	}
	return sess, nil
}

// SessionByID returns the session or ENOTFOUND.
func (s *Store) SessionByID(ctx context.Context, id string) (*sessionmanager.Session, error) {
	return sessionByID(ctx, s.read, id)
}

// EndSession ends a session that is not ended yet.
func (s *Store) EndSession(ctx context.Context, id string, reason sessionmanager.EndReason, at time.Time) (bool, error) {
	var ended bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'ended', end_reason = ?, ended_at = ?
			WHERE id = ? AND status <> 'ended'`, string(reason), at.UnixMicro(), id)
		if err != nil {
			return fmt.Errorf("sqlite: end session: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			ended = true
			return nil
		}
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, id).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return notFound("session")
		}
		return nil
	})
	return ended, err
}

// EndUserSessions ends all of a user's live sessions but exceptID.
func (s *Store) EndUserSessions(ctx context.Context, userID string, reason sessionmanager.EndReason, at time.Time, exceptID string) ([]string, error) {
	return s.endSessionsWhere(ctx, reason, at, `user_id = ? AND id <> ?`, userID, exceptID)
}

// EndDeviceSessions ends the user's live sessions signed in with deviceID.
func (s *Store) EndDeviceSessions(ctx context.Context, userID, deviceID string, reason sessionmanager.EndReason, at time.Time) ([]string, error) {
	if deviceID == "" {
		return []string{}, nil
	}
	return s.endSessionsWhere(ctx, reason, at, `user_id = ? AND device_id = ?`, userID, deviceID)
}

// endSessionsWhere ends the live sessions that match where (with args)
// in one statement and returns their ids.
func (s *Store) endSessionsWhere(ctx context.Context, reason sessionmanager.EndReason, at time.Time, where string, args ...any) ([]string, error) {
	var ids []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		ids, err = queryAll(ctx, tx, "end sessions", func(row rowScanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, `UPDATE sessions SET status = 'ended', end_reason = ?, ended_at = ?
			WHERE `+where+` AND status <> 'ended' RETURNING id`, append([]any{string(reason), at.UnixMicro()}, args...)...)
		return err
	})
	return ids, err
}

// TouchSessions raises last_seen (never lowers it) and makes inactive
// sessions active, all notes in one transaction.
func (s *Store) TouchSessions(ctx context.Context, notes []sessionmanager.LastSeen) error {
	if len(notes) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE sessions SET last_seen_at = max(last_seen_at, ?), status = 'active'
			WHERE id = ? AND status <> 'ended'`)
		if err != nil {
			return fmt.Errorf("sqlite: touch sessions: %w", err)
		}
		defer stmt.Close()
		for _, n := range notes {
			if _, err := stmt.ExecContext(ctx, n.At.UnixMicro(), n.SessionID); err != nil {
				return fmt.Errorf("sqlite: touch sessions: %w", err)
			}
		}
		return nil
	})
}

// SweepStale ends idle (when IdleBefore is set) and expired sessions, then
// marks the remaining active sessions last seen before InactiveBefore as
// inactive. Sessions it ends are not counted as inactivated. With
// sw.Limit, each step takes at most that many sessions (one write
// transaction holds the single writer for one batch), and the inactive
// step waits while an end step is full.
func (s *Store) SweepStale(ctx context.Context, sw sessionmanager.StaleSweep) (int, []sessionmanager.Ended, error) {
	var (
		inactivated int
		ended       []sessionmanager.Ended
	)
	// batch bounds a step's selection of sessions to sw.Limit.
	batch := func(cond string) string {
		if sw.Limit <= 0 {
			return cond
		}
		return `id IN (SELECT id FROM sessions WHERE ` + cond + ` LIMIT ` + strconv.Itoa(sw.Limit) + `)`
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ended = ended[:0]
		end := func(reason sessionmanager.EndReason, cond string, arg int64) (int, error) {
			es, err := queryAll(ctx, tx, "sweep "+string(reason), func(row rowScanner) (sessionmanager.Ended, error) {
				e := sessionmanager.Ended{Reason: reason}
				return e, row.Scan(&e.SessionID, &e.UserID)
			}, `UPDATE sessions SET status = 'ended', end_reason = ?, ended_at = ?
				WHERE `+batch(`status <> 'ended' AND `+cond)+` RETURNING id, user_id`, string(reason), sw.Now.UnixMicro(), arg)
			ended = append(ended, es...)
			return len(es), err
		}
		full := false
		if !sw.IdleBefore.IsZero() {
			n, err := end(sessionmanager.EndIdle, `last_seen_at < ?`, sw.IdleBefore.UnixMicro())
			if err != nil {
				return err
			}
			full = sw.FullStep(n)
		}
		n, err := end(sessionmanager.EndExpired, `expires_at <= ?`, sw.Now.UnixMicro())
		if err != nil {
			return err
		}
		full = full || sw.FullStep(n)
		if sw.InactiveBefore.IsZero() || full {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'inactive' WHERE `+batch(`status = 'active' AND last_seen_at < ?`),
			sw.InactiveBefore.UnixMicro())
		if err != nil {
			return fmt.Errorf("sqlite: sweep inactive: %w", err)
		}
		n64, err := res.RowsAffected()
		inactivated = int(n64)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return inactivated, ended, nil
}

// PurgeEnded deletes at most limit sessions (and their refresh tokens)
// ended before the time, oldest first along the partial index
// sessions_ended, in one write transaction: the single writer is held for
// one batch, so sign-ins wait milliseconds, not the whole purge.
func (s *Store) PurgeEnded(ctx context.Context, endedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("sqlite: purge batch of %d sessions", limit)
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id IN (
				SELECT id FROM sessions WHERE status = 'ended' AND ended_at < ?
				ORDER BY ended_at LIMIT ?)`, endedBefore.UnixMicro(), limit)
		if err != nil {
			return fmt.Errorf("sqlite: purge ended sessions: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// DeleteSession deletes a session and its refresh tokens.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return mustAffect(res, err, "session")
	})
}
