package sessionmanager

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// textProblem says why s cannot be stored as a field a client sent: NUL
// bytes and invalid UTF-8 are refused (SQLite would keep the NUL, Postgres
// refuses it, and a silent U+FFFD would make another name). "" when fine.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL bytes"
	}
	return ""
}

// checkTexts names each field whose value textProblem refuses; nil when
// all are fine. Pairs are field, value.
func checkTexts(pairs ...string) *Error {
	bad := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if p := textProblem(pairs[i+1]); p != "" {
			bad[pairs[i]] = p
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return InvalidFields(bad)
}

// caseFold is safe for concurrent use: a Caser is not, so one per call.
func caseFold(s string) string { return cases.Fold().String(s) }

// IdentityKey is the form of a username or email that decides uniqueness
// and lookup: NFKC (full-width and compatibility forms become their plain
// letters), case folded, without control or format characters (zero-width,
// bidi overrides), and with the Cyrillic and Greek letters that look like
// Latin ones replaced by those. "alice", "Alice", "ａlice", "аlice"
// (Cyrillic a) and "al\u200bice" share one key, so only the first of them
// can exist. Both stores keep it in a uniquely indexed column.
func IdentityKey(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = caseFold(norm.NFKC.String(s))
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		if l, ok := latinLookalike[r]; ok {
			return l
		}
		return r
	}, s)
	return norm.NFKC.String(s)
}

// latinLookalike maps lower-case Cyrillic and Greek letters (and a few
// Latin variants) to the Latin letter they are drawn like (after case
// folding; see Unicode TR39's confusables).
var latinLookalike = map[rune]rune{
	'а': 'a', 'е': 'e', 'ё': 'e', 'һ': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'ӏ': 'l', 'о': 'o',
	'р': 'p', 'ԛ': 'q', 'ѕ': 's', 'ѵ': 'v', 'ԝ': 'w', 'х': 'x', 'у': 'y', 'ү': 'y', 'ԁ': 'd', 'с': 'c',
	'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'υ': 'u', 'χ': 'x',
	'ϲ': 'c', 'ϳ': 'j', 'ı': 'i', 'ȷ': 'j', 'ɡ': 'g',
}

// identityProblem says why a new username or email may not be registered
// ("" when it may): what textProblem refuses, anything the PRECIS
// UsernameCaseMapped profile (RFC 8265) refuses (control, format, bidi,
// zero-width, unassigned or space characters; a name that breaks the bidi
// rule), and names that mix Latin letters with Cyrillic or Greek ones.
func identityProblem(s string) string {
	if p := textProblem(s); p != "" {
		return p
	}
	if s == "" {
		return "is required"
	}
	if _, err := precis.UsernameCaseMapped.String(s); err != nil {
		return "contains characters that are not allowed (spaces, control, zero-width or bidi characters)"
	}
	var latin, other bool
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Latin, r):
			latin = true
		case unicode.Is(unicode.Cyrillic, r), unicode.Is(unicode.Greek, r):
			other = true
		}
	}
	if latin && other {
		return "mixes Latin letters with Cyrillic or Greek ones"
	}
	return ""
}

// LooksAlike reports whether the raw form of a username or email differs
// from its identity key by more than letter case: admin views show both.
func LooksAlike(raw string) bool {
	return IdentityKey(raw) != caseFold(raw)
}
