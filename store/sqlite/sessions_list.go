package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// sortColumns maps a sort key to its column; every one is NOT NULL, so
// the keyset (column, id) orders all rows.
var sortColumns = map[sessionmanager.SessionSort]string{
	"":                          "s.created_at",
	sessionmanager.SortCreated:  "s.created_at",
	sessionmanager.SortLastSeen: "s.last_seen_at",
	sessionmanager.SortScore:    "s.score",
}

// sortKey is the value of the sort column of sess, as stored.
func sortKey(sort sessionmanager.SessionSort, sess *sessionmanager.Session) int64 {
	switch sort {
	case sessionmanager.SortLastSeen:
		return sess.LastSeenAt.UnixMicro()
	case sessionmanager.SortScore:
		return int64(sess.Score)
	default:
		return sess.CreatedAt.UnixMicro()
	}
}

// prefixRange is the first and last 16-byte address of p (unmapped), the
// bounds of a BETWEEN on ip_bin.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	addr, bits := p.Addr(), p.Bits()
	if addr.Is4In6() && bits >= 96 {
		addr, bits = addr.Unmap(), bits-96
	}
	if addr.Is4() {
		bits += 96
	}
	a := addr.As16()
	b := a
	for i := range 16 {
		switch {
		case bits >= (i+1)*8:
		case bits <= i*8:
			b[i] = 0xff
		default:
			b[i] |= 0xff >> (bits - i*8)
		}
	}
	return a[:], b[:]
}

// sessionWhere turns a filter into conditions (without the cursor).
func sessionWhere(f sessionmanager.SessionFilter) *where {
	w := &where{}
	if len(f.Status) > 0 {
		marks := make([]string, len(f.Status))
		for i, st := range f.Status {
			marks[i] = "?"
			w.args = append(w.args, string(st))
		}
		if slices.Contains(f.Status, sessionmanager.StatusEnded) {
			w.conds = append(w.conds, `s.status IN (`+strings.Join(marks, ", ")+`)`)
		} else {
			// Live sessions only: the term status <> 'ended' (implied by
			// the IN) lets SQLite walk the partial index of the live
			// sessions by created_at, and the unary + keeps it from
			// choosing the status index and sorting every live session;
			// other sorts walk their index in order.
			w.conds = append(w.conds, `+s.status IN (`+strings.Join(marks, ", ")+`)`, `s.status <> 'ended'`)
		}
	}
	if f.UserID != "" {
		w.add(`s.user_id = ?`, f.UserID)
	}
	if f.Country != "" {
		w.add(`s.country_code = ?`, strings.ToUpper(f.Country))
	}
	if f.IPPrefix.IsValid() {
		lo, hi := prefixRange(f.IPPrefix)
		w.add(`s.ip_bin BETWEEN ? AND ?`, lo, hi)
	}
	if f.DeviceType != "" {
		w.add(`s.device_type = ?`, f.DeviceType)
	}
	if f.AnyThreat.Any() {
		var any []string
		for _, t := range []struct {
			on  bool
			col string
		}{
			{f.AnyThreat.VPN, "s.threat_vpn"}, {f.AnyThreat.Proxy, "s.threat_proxy"}, {f.AnyThreat.Tor, "s.threat_tor"},
			{f.AnyThreat.Datacenter, "s.threat_datacenter"}, {f.AnyThreat.KnownThreat, "s.threat_known"},
		} {
			if t.on {
				any = append(any, t.col+" = 1")
			}
		}
		w.conds = append(w.conds, "("+strings.Join(any, " OR ")+")")
	}
	if f.ScoreBelow != nil {
		w.add(`s.score < ?`, *f.ScoreBelow)
	}
	if f.Suspected {
		w.conds = append(w.conds, `s.suspected <> ''`)
	}
	if !f.From.IsZero() {
		w.add(`s.created_at >= ?`, f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		w.add(`s.created_at < ?`, f.To.UnixMicro())
	}
	if f.Search != "" {
		p := likeContains(f.Search)
		countries, _ := json.Marshal(append([]string{}, f.SearchCountries...))
		// The session's own fields; a partial address is a prefix of the IP
		// alone (LIKE is case-insensitive for the hex digits, and its
		// characters are no LIKE wildcards).
		fields, args := `s.ip LIKE ? ESCAPE '\' OR s.browser LIKE ? ESCAPE '\' OR s.os LIKE ? ESCAPE '\'
			OR s.city LIKE ? ESCAPE '\' OR `+ispColumn+` LIKE ? ESCAPE '\'`, []any{p, p, p, p, p}
		if sessionmanager.SearchIsIPPrefix(f.Search) {
			fields, args = `s.ip LIKE ?`, []any{strings.ToLower(f.Search) + "%"}
		}
		w.add(`(u.email_key LIKE ? ESCAPE '\' OR u.username_key LIKE ? ESCAPE '\' OR `+fields+`
			OR s.country_code IN (SELECT value FROM json_each(?)))`, append(append([]any{p, p}, args...), string(countries))...)
	}
	return w
}

// ListSessions returns one page of the sessions the filter selects, ordered
// by the sort key then id, paged by keyset.
func (s *Store) ListSessions(ctx context.Context, f sessionmanager.SessionFilter) (sessionmanager.SessionPage, error) {
	col, ok := sortColumns[f.Sort]
	if !ok {
		return sessionmanager.SessionPage{}, sessionmanager.InvalidFields(map[string]string{"sort": "is not created_at, last_seen or score"})
	}
	w, err := s.filterWhere(ctx, f)
	if err != nil {
		return sessionmanager.SessionPage{}, err
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	if f.Cursor != "" {
		key, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return sessionmanager.SessionPage{}, err
		}
		w.add(`(`+col+`, s.id) `+cmp+` (?, ?)`, key, id)
	}
	limit := pageLimit(f.Limit)
	scanListedSession := func(row rowScanner) (*sessionmanager.Session, error) { return scanSession(row) }
	// The page's keys are chosen first, narrow, and only then are its rows
	// read: sorting a filtered set of wide rows is what costs.
	sessions, err := queryAll(ctx, s.read, "list sessions", scanListedSession, `SELECT `+sessionColumns+` FROM (SELECT s.id AS pid, `+col+` AS pkey`+
		sessionFrom+w.String()+` ORDER BY pkey `+dir+`, pid `+dir+` LIMIT ?) p
		JOIN sessions s ON s.id = p.pid LEFT JOIN users u ON u.id = s.user_id
		ORDER BY p.pkey `+dir+`, p.pid `+dir, append(w.args, limit+1)...)
	if err != nil {
		return sessionmanager.SessionPage{}, err
	}
	var page sessionmanager.SessionPage
	page.Sessions, page.NextCursor = pageOf(sessions, limit, func(last *sessionmanager.Session) string {
		return encodeCursor(sortKey(f.Sort, last), last.ID)
	})
	return page, nil
}

// filterWhere is the conditions of f (its cursor aside), a search narrowed
// through the trigram indexes when they can.
func (s *Store) filterWhere(ctx context.Context, f sessionmanager.SessionFilter) (*where, error) {
	w := sessionWhere(f)
	if f.Search != "" {
		cond, args, ok, err := s.searchNarrowing(ctx, f.Search, f.SearchCountries)
		if err != nil {
			return w, err
		}
		if ok {
			w.add(cond, args...)
		}
	}
	return w, nil
}

// CountSessions counts the sessions f selects, up to atMost+1.
func (s *Store) CountSessions(ctx context.Context, f sessionmanager.SessionFilter, atMost int) (int, error) {
	w, err := s.filterWhere(ctx, f)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1`+sessionFrom+w.String()+` LIMIT ?)`,
		append(w.args, atMost+1)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count sessions: %w", err)
	}
	return n, nil
}

// LoginHistory returns the user's earlier countries, device families and
// most recent session.
func (s *Store) LoginHistory(ctx context.Context, userID string) (sessionmanager.LoginHistory, error) {
	var h sessionmanager.LoginHistory
	var err error
	h.Countries, err = s.strings(ctx, `SELECT DISTINCT country_code FROM sessions
		WHERE user_id = ? AND country_code <> '' ORDER BY country_code`, userID)
	if err != nil {
		return h, err
	}
	h.DeviceFamilies, err = s.strings(ctx, `SELECT DISTINCT browser || '/' || os AS family FROM sessions
		WHERE user_id = ? ORDER BY family`, userID)
	if err != nil {
		return h, err
	}
	prev, err := scanSession(s.read.QueryRowContext(ctx, `SELECT `+sessionColumns+sessionFrom+
		` WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC LIMIT 1`, userID))
	switch {
	case err == nil:
		h.Previous = prev
	case !isNoRows(err):
		return h, fmt.Errorf("sqlite: login history: %w", err)
	}
	return h, nil
}

// strings runs a query of one text column.
func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	return queryAll(ctx, s.read, "login history", func(row rowScanner) (string, error) {
		var v string
		return v, row.Scan(&v)
	}, query, args...)
}
