package sessionmanager

import (
	"strings"
	"unicode/utf8"
)

// countryAliases are the other names people type for a country: short
// forms, former and colloquial names. One table for every search of
// countries by name (the dashboard's geo-fence picker, session search).
var countryAliases = map[string][]string{
	"GB": {"UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland"},
	"US": {"USA", "U.S.", "U.S.A.", "United States of America", "America"},
	"NL": {"Holland", "The Netherlands"},
	"AE": {"UAE", "Emirates", "Dubai"},
	"KR": {"Korea", "Republic of Korea"},
	"KP": {"North Korea", "DPRK"},
	"RU": {"Russian Federation"},
	"CZ": {"Czech Republic"},
	"CI": {"Ivory Coast"},
	"MM": {"Burma"},
	"SZ": {"Swaziland"},
	"MK": {"Macedonia"},
	"TR": {"Turkey", "Türkiye"},
	"CD": {"DRC", "Congo-Kinshasa"},
	"CG": {"Congo-Brazzaville"},
	"VA": {"Vatican", "Holy See"},
	"TW": {"Taiwan"},
	"IR": {"Persia"},
	"CV": {"Cape Verde"},
	"TL": {"East Timor"},
	"DE": {"Deutschland"},
	"CH": {"Schweiz", "Suisse"},
	"ES": {"España"},
	"BO": {"Bolivia"},
	"VE": {"Venezuela"},
	"LA": {"Laos"},
	"VN": {"Viet Nam"},
	"SY": {"Syria"},
	"MD": {"Moldova"},
	"TZ": {"Tanzania"},
	"PS": {"Palestine"},
}

// CountryAliases returns the other names of a country (UK for GB, Holland
// for NL...); nil when it has none.
func CountryAliases(code string) []string {
	return countryAliases[strings.ToUpper(code)]
}

// CountriesNamed returns the codes of the countries whose English name or
// an alias begins with text (case- and accent-insensitive; "uk", "holland",
// "germ"), a word of the name included ("kingdom"). Text under two letters
// names none, and so does a two-letter text that is only a code prefix.
func CountriesNamed(text string) []string {
	t := foldName(strings.TrimSpace(text))
	if utf8.RuneCountInString(t) < 2 {
		return nil
	}
	var out []string
	for _, row := range countryTable {
		names := append([]string{row[1]}, countryAliases[row[0]]...)
		for _, n := range names {
			if nameMatches(foldName(n), t) {
				out = append(out, row[0])
				break
			}
		}
	}
	return out
}

// nameMatches: the whole name equals t, or (t of three letters or more)
// the name or one of its words begins with t.
func nameMatches(name, t string) bool {
	if name == t {
		return true
	}
	if utf8.RuneCountInString(t) < 3 {
		return false
	}
	if strings.HasPrefix(name, t) {
		return true
	}
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '-' || r == '(' || r == ',' }) {
		if strings.HasPrefix(w, t) {
			return true
		}
	}
	return false
}

// foldName lower-cases a name and drops its accents and dots ("U.K." is "uk").
func foldName(s string) string {
	s = strings.ReplaceAll(strings.ToLower(nameFolder.Replace(s)), ".", "")
	return strings.NewReplacer("ü", "u", "ñ", "n", "é", "e", "í", "i").Replace(s)
}
