package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// sessionColumns are the columns of a session read, with the user's email
// and username joined from users (u).
const sessionColumns = `s.id, s.user_id, coalesce(u.email, ''), coalesce(u.username, ''), s.status, s.end_reason,
	s.auth_method, s.created_at, s.last_seen, s.ended_at, s.expires_at, s.ip, s.user_agent,
	s.device_type, s.browser, s.browser_version, s.os, s.os_version, s.location,
	s.threat_vpn, s.threat_proxy, s.threat_tor, s.threat_datacenter, s.threat_known,
	s.score, s.reasons, s.refresh_family, s.refresh_sealed, s.refresh_rotated_at, s.device_id,
	s.auth_time, s.amr, s.acr, s.suspected, s.suspected_at, s.dpop_jkt`

// sessionFrom is the FROM clause that goes with sessionColumns.
const sessionFrom = ` FROM sessions s LEFT JOIN users u ON u.id = s.user_id`

// scanSession reads a row of sessionColumns, then more (columns the query
// selects after them).
func scanSession(row pgx.Row, more ...any) (*sm.Session, error) {
	var (
		s                 sm.Session
		ip                string
		location, reasons string
		status, endReason string
		authMethod        string
		amr               string
		d                 = &s.Device
		t                 = &s.Threat
	)
	err := row.Scan(append([]any{&s.ID, &s.UserID, &s.UserEmail, &s.Username, &status, &endReason,
		&authMethod, utc(&s.CreatedAt), utc(&s.LastSeenAt), utc(&s.EndedAt), utc(&s.ExpiresAt), &ip, &s.UserAgent,
		&d.Type, &d.Browser, &d.BrowserVersion, &d.OS, &d.OSVersion, &location,
		&t.VPN, &t.Proxy, &t.Tor, &t.Datacenter, &t.KnownThreat,
		&s.Score, &reasons, &s.RefreshFamily, &s.RefreshSealed, utc(&s.RefreshRotatedAt), &s.DeviceID,
		utc(&s.AuthTime), &amr, &s.ACR, &s.Suspected, utc(&s.SuspectedAt), &s.DPoPJKT}, more...)...)
	if err != nil {
		return nil, err
	}
	s.AMR = sm.SplitAMR(amr)
	s.Status, s.EndReason, s.AuthMethod = sm.Status(status), sm.EndReason(endReason), sm.AuthMethod(authMethod)
	if ip != "" {
		s.IP, _ = netip.ParseAddr(ip)
	}
	if err := json.Unmarshal([]byte(location), &s.Location); err != nil {
		return nil, fmt.Errorf("session %s location: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(reasons), &s.Reasons); err != nil {
		return nil, fmt.Errorf("session %s reasons: %w", s.ID, err)
	}
	return &s, nil
}

// ipColumns returns the text and inet values of a session address; the
// inet is the unmapped address so that IPv4 prefixes find IPv4-mapped logins.
func ipColumns(ip netip.Addr) (string, any) {
	if !ip.IsValid() {
		return "", nil
	}
	return ip.String(), ip.Unmap().WithZone("")
}

// sessionInsertColumns are the columns a new session writes, in the order
// of sessionValues.
var sessionInsertColumns = []string{"id", "user_id", "status", "end_reason", "auth_method",
	"created_at", "last_seen", "ended_at", "expires_at", "ip", "ip_net", "user_agent",
	"device_type", "browser", "browser_version", "os", "os_version", "country_code", "city", "location",
	"threat_vpn", "threat_proxy", "threat_tor", "threat_datacenter", "threat_known",
	"score", "reasons", "refresh_family", "refresh_sealed", "refresh_rotated_at", "device_id",
	"auth_time", "amr", "acr", "dpop_jkt"}

// insertSessionSQL inserts one row of sessionInsertColumns.
var insertSessionSQL = insertSQL("sessions", sessionInsertColumns)

// insertSQL is an INSERT of one row of cols into table.
func insertSQL(table string, cols []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (")
	for i := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
	}
	b.WriteString(")")
	return b.String()
}

// sessionValues are ses's values of sessionInsertColumns (defaults filled
// in: active, last seen at creation).
func sessionValues(ses *sm.Session) ([]any, error) {
	if ses.Status == "" {
		ses.Status = sm.StatusActive
	}
	if ses.LastSeenAt.IsZero() {
		ses.LastSeenAt = ses.CreatedAt
	}
	location, err := jsonText(ses.Location)
	if err != nil {
		return nil, fmt.Errorf("postgres: session location: %w", err)
	}
	reasons, err := jsonText(ses.Reasons)
	if err != nil {
		return nil, fmt.Errorf("postgres: session reasons: %w", err)
	}
	ipText, ipNet := ipColumns(ses.IP)
	d, t := ses.Device, ses.Threat
	return []any{ses.ID, ses.UserID, string(ses.Status), string(ses.EndReason), string(ses.AuthMethod),
		ses.CreatedAt, ses.LastSeenAt, nullTime(ses.EndedAt), ses.ExpiresAt, ipText, ipNet, ses.UserAgent,
		d.Type, d.Browser, d.BrowserVersion, d.OS, d.OSVersion,
		strings.ToUpper(ses.Location.CountryCode), ses.Location.City, location,
		t.VPN, t.Proxy, t.Tor, t.Datacenter, t.KnownThreat,
		ses.Score, reasons, ses.RefreshFamily, nullBytes(ses.RefreshSealed), nullTime(ses.RefreshRotatedAt), ses.DeviceID,
		nullTime(ses.AuthTime), sm.JoinAMR(ses.AMR), ses.ACR, ses.DPoPJKT}, nil
}

// CreateSession inserts s and its first refresh token hash in one transaction.
func (s *Store) CreateSession(ctx context.Context, ses *sm.Session, refreshHash []byte) error {
	values, err := sessionValues(ses)
	if err != nil {
		return err
	}
	// The counter triggers may deadlock with a sweep: a victim transaction
	// is rolled back whole and retried.
	return retryDeadlock(ctx, func() error { return s.createSession(ctx, ses, refreshHash, values) })
}

func (s *Store) createSession(ctx context.Context, ses *sm.Session, refreshHash []byte, values []any) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertSessionSQL, values...); err != nil {
			return mapErr(err, "session")
		}
		if len(refreshHash) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)`,
			refreshHash, ses.ID, ses.CreatedAt)
		return mapErr(err, "refresh token")
	})
}

// SessionByID returns the session, its trail included, or ENOTFOUND.
func (s *Store) SessionByID(ctx context.Context, id string) (*sm.Session, error) {
	if !storable(id) {
		return nil, notFound("session")
	}
	var trail string
	ses, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+`, s.trail::text`+sessionFrom+` WHERE s.id = $1`, id), &trail)
	if err != nil {
		return nil, mapErr(err, "session")
	}
	// An empty trail reads as none (nil), like a session never written.
	if trail != "[]" {
		if err := json.Unmarshal([]byte(trail), &ses.Trail); err != nil {
			return nil, fmt.Errorf("session %s trail: %w", ses.ID, err)
		}
	}
	return ses, nil
}

// EndSession ends a session that is not ended yet.
func (s *Store) EndSession(ctx context.Context, id string, reason sm.EndReason, at time.Time) (bool, error) {
	if !storable(id) {
		return false, notFound("session")
	}
	// One statement: the CTE ends the session if it is live, and the outer
	// query tells "already ended" from "does not exist".
	// Its counter triggers may deadlock with a sweep holding counter rows:
	// the victim is rolled back whole, so it is retried.
	var exists, ended bool
	err := retryDeadlock(ctx, func() error {
		return s.pool.QueryRow(ctx, `WITH ended AS (
			UPDATE sessions SET status = 'ended', end_reason = $2, ended_at = $3
			WHERE id = $1 AND status <> 'ended' RETURNING id)
		SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1), EXISTS (SELECT 1 FROM ended)`,
			id, string(reason), at).Scan(&exists, &ended)
	})
	if err != nil {
		return false, mapErr(err, "session")
	}
	if !exists && !ended {
		return false, notFound("session")
	}
	return ended, nil
}

// EndUserSessions ends the user's sessions that are not ended, but exceptID.
func (s *Store) EndUserSessions(ctx context.Context, userID string, reason sm.EndReason, at time.Time, exceptID string) ([]string, error) {
	if !storable(userID) || !storable(exceptID) {
		return []string{}, nil
	}
	return s.endSessionsWhere(ctx, reason, at, `user_id = $3 AND id <> $4`, userID, exceptID)
}

// EndDeviceSessions ends the user's live sessions signed in with deviceID.
func (s *Store) EndDeviceSessions(ctx context.Context, userID, deviceID string, reason sm.EndReason, at time.Time) ([]string, error) {
	if deviceID == "" || !storable(userID) || !storable(deviceID) {
		return []string{}, nil
	}
	return s.endSessionsWhere(ctx, reason, at, `user_id = $3 AND device_id = $4`, userID, deviceID)
}

// endSessionsWhere ends the live sessions that match where (its
// parameters from $3, args) and returns their ids, sorted. The rows are
// locked in id order, as TouchSessions does, and a deadlock with a
// multi-statement transaction (a sweep holding counter rows of the
// triggers) is retried.
func (s *Store) endSessionsWhere(ctx context.Context, reason sm.EndReason, at time.Time, where string, args ...any) ([]string, error) {
	var ids []string
	err := retryDeadlock(ctx, func() error {
		rows, err := s.pool.Query(ctx, `WITH locked AS (
				SELECT id FROM sessions WHERE `+where+` AND status <> 'ended'
				ORDER BY id FOR UPDATE)
			UPDATE sessions s SET status = 'ended', end_reason = $1, ended_at = $2
			FROM locked WHERE s.id = locked.id AND s.status <> 'ended' RETURNING s.id`,
			append([]any{string(reason), at}, args...)...)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, mapErr(err, "sessions")
	}
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// TouchSessions applies a batch of last-seen notes in one statement.
func (s *Store) TouchSessions(ctx context.Context, notes []sm.LastSeen) error {
	if len(notes) == 0 {
		return nil
	}
	ids := make([]string, 0, len(notes))
	ats := make([]time.Time, 0, len(notes))
	for _, n := range notes {
		if !storable(n.SessionID) {
			continue
		}
		ids = append(ids, n.SessionID)
		ats = append(ats, n.At)
	}
	// Notes are grouped per session first: UPDATE ... FROM applies only one
	// joined row per target row, and it must be the latest. The rows are
	// locked in id order before the update, so two batches that share
	// sessions (two instances flushing) cannot deadlock on each other.
	err := retryDeadlock(ctx, func() error {
		_, err := s.pool.Exec(ctx, `WITH notes AS (
				SELECT id, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS t(id, at) GROUP BY id),
			locked AS (
				SELECT s.id, notes.at FROM sessions s JOIN notes ON notes.id = s.id
				WHERE s.status <> 'ended' ORDER BY s.id FOR UPDATE OF s)
			UPDATE sessions s
			SET last_seen = GREATEST(s.last_seen, locked.at),
			    status = CASE WHEN s.status = 'inactive' THEN 'active' ELSE s.status END
			FROM locked WHERE s.id = locked.id AND s.status <> 'ended'`, ids, ats)
		return err
	})
	return mapErr(err, "sessions")
}

// SweepStale ends idle sessions (when IdleBefore is set), then expired ones,
// then marks the remaining stale active sessions inactive, in one
// transaction; sessions it ends are not counted as inactivated. It also
// deletes the session_ticks rows older than ticksKept before sw.Now.
// With sw.Limit, each step takes at most that many sessions, chosen along
// the live and expiry indexes, and the inactive step waits while an end
// step is full.
func (s *Store) SweepStale(ctx context.Context, sw sm.StaleSweep) (int, []sm.Ended, error) {
	var inactivated int
	ended := []sm.Ended{}
	// batch is the set of sessions a step changes: those cond selects, or
	// (with a limit) at most sw.Limit of them, picked once and locked. A
	// row another transaction holds (a last-seen touch, a logout) is waited
	// for and cond checked again on what it committed, as a plain UPDATE
	// does: a session touched meanwhile is no longer idle, and one the
	// sweep skipped would wait a whole sweep period. Only the leading
	// instance sweeps, so no other sweep holds rows.
	batch := func(cond string, args ...any) (string, []any) {
		if sw.Limit <= 0 {
			return `SELECT id FROM sessions WHERE ` + cond + ` FOR UPDATE`, args
		}
		return `SELECT id FROM sessions WHERE ` + cond + ` LIMIT $` + fmt.Sprint(len(args)+1) + ` FOR UPDATE`, append(args, sw.Limit)
	}
	err := retryDeadlock(ctx, func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			ended = ended[:0]
			end := func(reason sm.EndReason, cond string, bound time.Time) (int, error) {
				due, args := batch(`status <> 'ended' AND `+cond, bound)
				rows, err := tx.Query(ctx, `WITH due AS MATERIALIZED (`+due+`)
				UPDATE sessions s SET status = 'ended', end_reason = $`+fmt.Sprint(len(args)+1)+`, ended_at = $`+fmt.Sprint(len(args)+2)+`
				FROM due WHERE s.id = due.id AND s.status <> 'ended' RETURNING s.id, s.user_id`, append(args, string(reason), sw.Now)...)
				if err != nil {
					return 0, err
				}
				got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sm.Ended, error) {
					e := sm.Ended{Reason: reason}
					return e, r.Scan(&e.SessionID, &e.UserID)
				})
				ended = append(ended, got...)
				return len(got), err
			}
			full := false
			if !sw.IdleBefore.IsZero() {
				n, err := end(sm.EndIdle, "last_seen < $1", sw.IdleBefore)
				if err != nil {
					return err
				}
				full = sw.FullStep(n)
			}
			n, err := end(sm.EndExpired, "expires_at <= $1", sw.Now)
			if err != nil {
				return err
			}
			full = full || sw.FullStep(n)
			if !sw.Now.IsZero() {
				// Stats reads the ticks of the last half hour; older ones only grow the table.
				if _, err := tx.Exec(ctx, `DELETE FROM session_ticks WHERE tick < $1`,
					unixTick(sw.Now.Add(-ticksKept))); err != nil {
					return err
				}
			}
			if sw.InactiveBefore.IsZero() || full {
				return nil
			}
			due, args := batch(`status = 'active' AND last_seen < $1`, sw.InactiveBefore)
			tag, err := tx.Exec(ctx, `WITH due AS MATERIALIZED (`+due+`)
			UPDATE sessions s SET status = 'inactive' FROM due WHERE s.id = due.id AND s.status = 'active'`, args...)
			inactivated = int(tag.RowsAffected())
			return err
		})
	})
	if err != nil {
		return 0, nil, mapErr(err, "sweep")
	}
	return inactivated, ended, nil
}

// PurgeEnded deletes at most limit sessions ended before endedBefore (and,
// by cascade, their refresh tokens), oldest first along the partial index
// sessions_ended_idx. Rows another purge holds are skipped, not waited for.
func (s *Store) PurgeEnded(ctx context.Context, endedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: purge batch of %d sessions", limit)
	}
	// MATERIALIZED: the batch is chosen once; a subquery with SKIP LOCKED
	// on the inner side of a join may run again and pick more rows.
	tag, err := s.pool.Exec(ctx, `WITH due AS MATERIALIZED (
			SELECT id FROM sessions WHERE status = 'ended' AND ended_at < $1
			ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		DELETE FROM sessions s USING due WHERE s.id = due.id`, endedBefore, limit)
	if err != nil {
		return 0, mapErr(err, "sessions")
	}
	return int(tag.RowsAffected()), nil
}

// DeleteSession deletes a session and its refresh tokens.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if !storable(id) {
		return notFound("session")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	if err != nil {
		return mapErr(err, "session")
	}
	if tag.RowsAffected() == 0 {
		return notFound("session")
	}
	return nil
}

// LoginHistory returns the countries and device families of the user's
// sessions and the most recent one.
func (s *Store) LoginHistory(ctx context.Context, userID string) (sm.LoginHistory, error) {
	h := sm.LoginHistory{Countries: []string{}, DeviceFamilies: []string{}}
	if !storable(userID) {
		return h, nil
	}
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce(array_agg(DISTINCT country_code ORDER BY country_code) FILTER (WHERE country_code <> ''), '{}'),
			coalesce(array_agg(DISTINCT browser || '/' || os ORDER BY browser || '/' || os), '{}')
		FROM sessions WHERE user_id = $1`, userID).Scan(&h.Countries, &h.DeviceFamilies)
	if err != nil {
		return h, mapErr(err, "login history")
	}
	prev, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+sessionFrom+`
		WHERE s.user_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT 1`, userID))
	switch {
	case err == nil:
		h.Previous = prev
	case err != pgx.ErrNoRows:
		return h, mapErr(err, "login history")
	}
	return h, nil
}
