package device

import "strings"

// osVersion reads the OS version the parser does not give, as major.minor at
// most. Browsers freeze some of these (macOS stays 10.15, Windows 11 says
// NT 10.0), so it is for display, never for decisions.
func osVersion(os, ua string) string {
	switch os {
	case "Windows":
		return windowsVersions[versionAfter(ua, "Windows NT ")]
	case "macOS":
		return versionAfter(ua, "Mac OS X ")
	case "iOS":
		if v := versionAfter(ua, "iPhone OS "); v != "" {
			return v
		}
		return versionAfter(ua, "CPU OS ")
	case "Android":
		return versionAfter(ua, "Android ")
	}
	return ""
}

// windowsVersions names Windows NT kernel versions by their product.
var windowsVersions = map[string]string{
	"10.0": "10",
	"6.3":  "8.1",
	"6.2":  "8",
	"6.1":  "7",
	"6.0":  "Vista",
	"5.1":  "XP",
}

// versionAfter returns the version right after marker in ua: digits with
// "." or "_" separators, as major.minor at most.
func versionAfter(ua, marker string) string {
	i := strings.Index(ua, marker)
	if i < 0 {
		return ""
	}
	rest := ua[i+len(marker):]
	end, dots := 0, 0
	for end < len(rest) {
		c := rest[end]
		if c == '.' || c == '_' {
			dots++
			if dots == 2 || end+1 >= len(rest) || rest[end+1] < '0' || rest[end+1] > '9' {
				break
			}
		} else if c < '0' || c > '9' {
			break
		}
		end++
	}
	if end > maxVersionLen {
		return "" // no OS numbers its versions so; stored and shown, so not kept
	}
	return strings.ReplaceAll(rest[:end], "_", ".")
}

// maxVersionLen bounds a version kept from a User-Agent ("10.15", "17.4",
// "120.0"): longer digit runs are made up, and the field is stored.
const maxVersionLen = 16

// botName names a bot the parser recognised without naming it: the product
// after "compatible; " (Googlebot, bingbot) or the first product token
// (curl, python-requests).
func botName(ua string) string {
	s := ua
	if _, after, found := strings.Cut(ua, "compatible; "); found {
		s = after
	}
	end := strings.IndexAny(s, "/ ;()")
	if end < 0 {
		end = len(s)
	}
	name := s[:end]
	// The name is stored and shown: plain ASCII product names only.
	if len(name) > 64 {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return name
}
