package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on the candidates a search takes from the trigram indexes: past
// them the substring is common, and walking the sort index with the LIKE
// conditions finds a page sooner than sorting every candidate.
const (
	maxSessionCandidates = 5000
	maxUserCandidates    = 1000
)

// searchNarrowing returns a condition that limits a search to the sessions
// the trigram indexes (migration 0003) name as candidates: those whose
// searched session text, or whose user's, contains the substring. ok is
// false when the indexes cannot narrow the search: a substring under three
// characters or with a LIKE metacharacter (the trigram index is not used
// for LIKE ... ESCAPE), or too many candidates. The caller keeps the exact
// LIKE conditions either way.
func (s *Store) searchNarrowing(ctx context.Context, search string, countries []string) (cond string, args []any, ok bool, err error) {
	lower := strings.ToLower(search)
	if utf8.RuneCountInString(lower) < 3 || strings.ContainsAny(lower, `%_\`) {
		return "", nil, false, nil
	}
	pattern := "%" + lower + "%"
	sessions, ok, err := candidates[int64](ctx, s, pattern, maxSessionCandidates,
		`SELECT rowid FROM session_search WHERE text LIKE ? LIMIT ?`)
	if !ok {
		return "", nil, false, err
	}
	users, ok, err := candidates[string](ctx, s, pattern, maxUserCandidates,
		`SELECT m.id FROM user_search f JOIN user_search_ids m ON m.n = f.rowid WHERE f.text LIKE ? LIMIT ?`)
	if !ok {
		return "", nil, false, err
	}
	sessJSON, err := json.Marshal(sessions)
	if err != nil {
		return "", nil, false, fmt.Errorf("sqlite: search: %w", err)
	}
	userJSON, err := json.Marshal(users)
	if err != nil {
		return "", nil, false, fmt.Errorf("sqlite: search: %w", err)
	}
	countryJSON, err := json.Marshal(append([]string{}, countries...))
	if err != nil {
		return "", nil, false, fmt.Errorf("sqlite: search: %w", err)
	}
	// The sessions in the countries the search names come through the
	// country index (sessions_country).
	return `s.rowid IN (
		SELECT c.rowid FROM session_search_ids m JOIN sessions c ON c.id = m.id
		WHERE m.n IN (SELECT value FROM json_each(?))
		UNION
		SELECT c.rowid FROM sessions c WHERE c.user_id IN (SELECT value FROM json_each(?))
		UNION
		SELECT c.rowid FROM sessions c WHERE c.country_code IN (SELECT value FROM json_each(?)))`,
		[]any{string(sessJSON), string(userJSON), string(countryJSON)}, true, nil
}

// ispColumn is a session's ISP, kept in its location JSON; the search
// index (migration 0015) holds it after the city.
const ispColumn = `coalesce(CASE WHEN json_valid(s.location) THEN json_extract(s.location, '$.isp') END, '')`

// candidates runs a trigram query for pattern; ok is false when it names
// more than limit rows.
func candidates[T any](ctx context.Context, s *Store, pattern string, limit int, sql string) ([]T, bool, error) {
	list, err := queryAll(ctx, s.read, "search", func(row rowScanner) (T, error) {
		var v T
		return v, row.Scan(&v)
	}, sql, pattern, limit+1)
	return list, err == nil && len(list) <= limit, err
}
