package postgres

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// sortColumns maps a sort key to its column; each has an index on (column, id).
var sortColumns = map[sm.SessionSort]string{
	sm.SortCreated:  "s.created_at",
	sm.SortLastSeen: "s.last_seen",
	sm.SortScore:    "s.score",
}

// sessionCursor is the sort key of the last session of a page: Key is the
// score or a time in Unix microseconds.
type sessionCursor struct {
	Sort sm.SessionSort `json:"s"`
	Key  int64          `json:"k"`
	ID   string         `json:"id"`
}

// query collects the WHERE conditions and bind arguments of a list query.
type query struct {
	where []string
	args  []any
}

// arg binds v and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// and adds a condition.
func (q *query) and(cond string) { q.where = append(q.where, cond) }

// whereClause is " WHERE a AND b", or "" without conditions.
func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// prefixRange normalises a prefix for the inet column: masked, and an
// IPv4-mapped IPv6 prefix becomes the IPv4 prefix it covers.
func prefixRange(p netip.Prefix) netip.Prefix {
	addr := p.Addr().WithZone("")
	bits := p.Bits()
	if addr.Is4In6() && bits >= 96 {
		addr, bits = addr.Unmap(), bits-96
	}
	return netip.PrefixFrom(addr, bits).Masked()
}

// sessionConditions adds the filters of f; matchNothing is true when a
// filter value cannot match any stored session.
func sessionConditions(q *query, f sm.SessionFilter) (matchNothing bool) {
	for _, v := range []string{f.UserID, f.Country, f.DeviceType, f.Search} {
		if !storable(v) {
			return true
		}
	}
	if len(f.Status) > 0 {
		statuses := make([]string, 0, len(f.Status))
		for _, st := range f.Status {
			if storable(string(st)) {
				statuses = append(statuses, string(st))
			}
		}
		if len(statuses) == 0 {
			return true
		}
		q.and("s.status = ANY(" + q.arg(statuses) + "::text[])")
	}
	if f.UserID != "" {
		q.and("s.user_id = " + q.arg(f.UserID))
	}
	if f.Country != "" {
		q.and("s.country_code = " + q.arg(strings.ToUpper(f.Country)))
	}
	if f.IPPrefix.IsValid() {
		q.and("s.ip_net <<= " + q.arg(prefixRange(f.IPPrefix)) + "::inet")
	}
	if f.DeviceType != "" {
		q.and("s.device_type = " + q.arg(f.DeviceType))
	}
	var threats []string
	for _, t := range []struct {
		set bool
		col string
	}{{f.AnyThreat.VPN, "s.threat_vpn"}, {f.AnyThreat.Proxy, "s.threat_proxy"}, {f.AnyThreat.Tor, "s.threat_tor"},
		{f.AnyThreat.Datacenter, "s.threat_datacenter"}, {f.AnyThreat.KnownThreat, "s.threat_known"}} {
		if t.set {
			threats = append(threats, t.col)
		}
	}
	if len(threats) > 0 {
		q.and("(" + strings.Join(threats, " OR ") + ")")
	}
	if f.ScoreBelow != nil {
		// Clamped to the column's range, so a huge bound is a filter, not an error.
		q.and("s.score < " + q.arg(int32(min(max(*f.ScoreBelow, math.MinInt32), math.MaxInt32))))
	}
	if f.Suspected {
		q.and("s.suspected <> ''")
	}
	if !f.From.IsZero() {
		q.and("s.created_at >= " + q.arg(f.From))
	}
	if !f.To.IsZero() {
		q.and("s.created_at < " + q.arg(f.To))
	}
	return false
}

// searchText is the expression of the sessions_search_trgm index (migration
// 0020): the searched session columns joined by U+001F, the ISP last.
const searchText = `(s.ip || E'\x1f' || s.browser || E'\x1f' || s.os || E'\x1f' || s.city || E'\x1f' || s.isp)`

// searchQuery is the SELECT of a list with a free-text search, given the
// other conditions (cursor included), the order and the limit placeholder.
// It is the first page of each of two searches merged: sessions of users
// whose email or username matches, and sessions whose IP, browser, OS,
// city or ISP matches, plus, when the search names countries
// (SearchCountries), the sessions in them (through the country index).
// Each arm is planned on its own: through the trigram indexes when few rows
// match, or along the sort index, stopping at the page, when many do; one
// OR over both tables could only be a scan of every session.
func searchQuery(q *query, search string, countries []string, order, limit string) string {
	p := q.arg(likePattern(search))
	like := func(col string) string { return col + " ILIKE " + p + ` ESCAPE '\'` }
	where := q.whereClause()
	and := " WHERE "
	if where != "" {
		and = " AND "
	}
	return `SELECT ` + sessionColumns + sessionFrom + ` WHERE s.id IN (
		(SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id` + where + and +
		nameMatch("u.", p, search) + ` ORDER BY ` + order + ` LIMIT ` + limit + `)
		UNION ALL
		(SELECT s.id FROM sessions s` + where + and + sessionMatch(q, search, like) + `
		ORDER BY ` + order + ` LIMIT ` + limit + `)` + countryArm(q, where, and, countries, order, limit) + `)
		ORDER BY ` + order + ` LIMIT ` + limit
}

// nameMatch is the condition "the user's email or username holds search"
// (case-insensitive) on the users columns prefixed by alias, p the bound
// likePattern of search. Without U+001F in the search it is one LIKE on
// search_names (migration 0024: both names lower-cased once, joined by
// U+001F): ILIKE is lower() of both sides and LIKE, and a match of a
// pattern without U+001F in the joined names is inside one of them. The
// lower-casing of every row on every check was most of a check's time, and
// one trigram index replaces two. A search that holds U+001F is matched
// name by name.
func nameMatch(alias, p, search string) string {
	if !strings.ContainsRune(search, '\x1f') {
		return alias + "search_names LIKE lower(" + p + `) ESCAPE '\'`
	}
	return "(" + alias + "email ILIKE " + p + ` ESCAPE '\' OR ` + alias + "username ILIKE " + p + ` ESCAPE '\')`
}

// sessionMatch is the condition of the search's session arm. The pattern
// is a literal substring (likePattern escapes the wildcards), so when the
// search holds no U+001F, a match in searchText cannot span two columns:
// the one condition on the indexed expression is exact, and the planner
// estimates its selectivity once (ANDed with the per-column conditions it
// multiplied two estimates of the same match, took a common substring for
// a rare one and scanned every session). A search that holds U+001F is
// matched column by column. A partial address (sm.SearchIsIPPrefix) is a
// prefix of the IP, a range of sessions_ip_prefix_idx (migration 0023),
// lower-cased as addresses are written.
func sessionMatch(q *query, search string, like func(string) string) string {
	if sm.SearchIsIPPrefix(search) {
		return "s.ip LIKE " + q.arg(strings.ToLower(search)+"%") // digits, hex, dots, colons: no wildcard to escape
	}
	if !strings.ContainsRune(search, '\x1f') {
		return like(searchText)
	}
	return `(` + like("s.ip") + ` OR ` + like("s.browser") + ` OR ` + like("s.os") + ` OR ` + like("s.city") + ` OR ` + like("s.isp") + `)`
}

// planEach returns a list query's arguments, preceded for a search by the
// mode that plans each execution with its own search string: a prepared
// statement (pgx's default) is planned once for any string after five
// executions (PostgreSQL's generic plan), and the right plan depends on the
// string: along the sort index for a common one, through the trigram
// indexes for a rare one.
func planEach(f sm.SessionFilter, args []any) []any {
	if f.Search == "" {
		return args
	}
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}

// countryArm is the search's third arm: the sessions in the countries the
// search names; "" when it names none.
func countryArm(q *query, where, and string, countries []string, order, limit string) string {
	if len(countries) == 0 {
		return ""
	}
	return `
		UNION ALL
		(SELECT s.id FROM sessions s` + where + and + `s.country_code = ANY(` + q.arg(countries) + `::text[])
		ORDER BY ` + order + ` LIMIT ` + limit + `)`
}

// CountSessions counts the sessions f selects, up to atMost+1: the same
// query as the list's first page, atMost+1 long, counted.
func (s *Store) CountSessions(ctx context.Context, f sm.SessionFilter, atMost int) (int, error) {
	var q query
	if sessionConditions(&q, f) {
		return 0, nil
	}
	var sql string
	if f.Search != "" {
		sql = searchQuery(&q, f.Search, f.SearchCountries, "s.created_at DESC, s.id DESC", q.arg(atMost+1))
	} else {
		sql = `SELECT 1 FROM sessions s` + q.whereClause() + ` LIMIT ` + q.arg(atMost+1)
	}
	var n int
	err := s.readList(ctx, f, func(db querier) error {
		return db.QueryRow(ctx, `SELECT count(*) FROM (`+sql+`) c`, planEach(f, q.args)...).Scan(&n)
	})
	if err != nil {
		return 0, mapErr(err, "sessions")
	}
	return n, nil
}

// querier runs a statement: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readList runs fn with the pool for a plain list and, for a search, in a
// transaction without parallel workers (three more round trips: BEGIN,
// the SET, COMMIT). A search page is a walk that stops at the page: PostgreSQL planned the user arm of q=user42 at
// 10 M sessions as a parallel walk (two workers and a merge) once its
// estimate of the matches halved (migration 0024's one condition instead
// of two ORed), and on a busy server the workers walked 17,000 index
// entries instead of 13,000 and took the cores: 2-3 times slower
// (docs/SCALE.md).
func (s *Store) readList(ctx context.Context, f sm.SessionFilter, fn func(db querier) error) error {
	if f.Search == "" {
		return fn(s.pool)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
			return err
		}
		return fn(tx)
	})
}

// ListSessions returns one page of sessions, keyset-paginated on the sort
// column and id.
func (s *Store) ListSessions(ctx context.Context, f sm.SessionFilter) (sm.SessionPage, error) {
	page := sm.SessionPage{Sessions: []*sm.Session{}}
	sortKey := f.Sort
	if sortKey == "" {
		sortKey = sm.SortCreated
	}
	col, ok := sortColumns[sortKey]
	if !ok {
		return page, sm.InvalidFields(map[string]string{"sort": "must be created_at, last_seen or score"})
	}
	limit := pageLimit(f.Limit)
	var q query
	if sessionConditions(&q, f) {
		return page, nil
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	if f.Cursor != "" {
		var c sessionCursor
		if err := decodeCursor(f.Cursor, &c); err != nil {
			return page, err
		}
		if c.Sort != sortKey {
			return page, sm.InvalidFields(map[string]string{"cursor": "belongs to a list with another sort"})
		}
		var key any = c.Key
		if sortKey != sm.SortScore {
			key = time.UnixMicro(c.Key).UTC()
		}
		q.and(fmt.Sprintf("(%s, s.id) %s (%s, %s)", col, cmp, q.arg(key), q.arg(c.ID)))
	}
	order := fmt.Sprintf("%s %s, s.id %s", col, dir, dir)
	var sql string
	if f.Search != "" {
		sql = searchQuery(&q, f.Search, f.SearchCountries, order, q.arg(limit+1))
	} else {
		sql = `SELECT ` + sessionColumns + sessionFrom + q.whereClause() + " ORDER BY " + order + " LIMIT " + q.arg(limit+1)
	}
	var list []*sm.Session
	err := s.readList(ctx, f, func(db querier) error {
		rows, err := db.Query(ctx, sql, planEach(f, q.args)...)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sm.Session, error) { return scanSession(r) })
		return err
	})
	if err != nil {
		return page, mapErr(err, "sessions")
	}
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		c := sessionCursor{Sort: sortKey, ID: last.ID}
		switch sortKey {
		case sm.SortCreated:
			c.Key = last.CreatedAt.UnixMicro()
		case sm.SortLastSeen:
			c.Key = last.LastSeenAt.UnixMicro()
		case sm.SortScore:
			c.Key = int64(last.Score)
		}
		page.NextCursor = encodeCursor(c)
	}
	page.Sessions = list
	return page, nil
}
